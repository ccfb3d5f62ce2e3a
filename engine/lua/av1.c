/*
 * cmafeng.av1 from C: parse(bytes) -> table of every sequence header field,
 * codec_string(bytes) -> string, invariant(a, b [, mode]) -> ok, differences.
 * `bytes` is a buffer of OBUs (a temporal unit, configOBUs, a .obu file); the first
 * sequence header in it is used. Malformed input returns nil, message, code.
 */
#include <string.h>

#include "cmafeng/av1.h"
#include "lua/bindings.h"

static void set_int(lua_State *L, const char *k, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

void cme__lua_push_seq_hdr(lua_State *L, const CmeAv1SeqHdr *s)
{
    lua_createtable(L, 0, 48);
#define F(name) set_int(L, #name, (lua_Number)s->name)
    F(seq_profile);
    F(still_picture);
    F(reduced_still_picture_header);
    F(timing_info_present_flag);
    F(num_units_in_display_tick);
    F(time_scale);
    F(equal_picture_interval);
    F(num_ticks_per_picture_minus_1);
    F(decoder_model_info_present_flag);
    F(buffer_delay_length_minus_1);
    F(num_units_in_decoding_tick);
    F(buffer_removal_time_length_minus_1);
    F(frame_presentation_time_length_minus_1);
    F(initial_display_delay_present_flag);
    F(operating_points_cnt_minus_1);
    F(frame_width_bits_minus_1);
    F(frame_height_bits_minus_1);
    F(max_frame_width_minus_1);
    F(max_frame_height_minus_1);
    F(frame_id_numbers_present_flag);
    F(delta_frame_id_length_minus_2);
    F(additional_frame_id_length_minus_1);
    F(use_128x128_superblock);
    F(enable_filter_intra);
    F(enable_intra_edge_filter);
    F(enable_interintra_compound);
    F(enable_masked_compound);
    F(enable_warped_motion);
    F(enable_dual_filter);
    F(enable_order_hint);
    F(enable_jnt_comp);
    F(enable_ref_frame_mvs);
    F(seq_choose_screen_content_tools);
    F(seq_force_screen_content_tools);
    F(seq_choose_integer_mv);
    F(seq_force_integer_mv);
    F(order_hint_bits);
    F(enable_superres);
    F(enable_cdef);
    F(enable_restoration);
    F(film_grain_params_present);
#undef F
    lua_createtable(L, s->operating_points_cnt_minus_1 + 1, 0);
    for (int i = 0; i <= s->operating_points_cnt_minus_1 && i < CME_AV1_MAX_OPERATING_POINTS; i++) {
        const CmeAv1OperatingPoint *op = &s->op[i];
        lua_createtable(L, 0, 9);
#define F(name) set_int(L, #name, (lua_Number)op->name)
        F(idc);
        F(seq_level_idx);
        F(seq_tier);
        F(decoder_model_present_for_this_op);
        F(decoder_buffer_delay);
        F(encoder_buffer_delay);
        F(low_delay_mode_flag);
        F(initial_display_delay_present_for_this_op);
        F(initial_display_delay_minus_1);
#undef F
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "operating_points");
    const CmeAv1ColorConfig *c = &s->color;
    lua_createtable(L, 0, 14);
#define F(name) set_int(L, #name, (lua_Number)c->name)
    F(high_bitdepth);
    F(twelve_bit);
    F(bit_depth);
    F(mono_chrome);
    F(num_planes);
    F(color_description_present_flag);
    F(color_primaries);
    F(transfer_characteristics);
    F(matrix_coefficients);
    F(color_range);
    F(subsampling_x);
    F(subsampling_y);
    F(chroma_sample_position);
    F(separate_uv_delta_q);
#undef F
    lua_setfield(L, -2, "color_config");
}

static int parse_arg(lua_State *L, int idx, CmeAv1SeqHdr *seq, CmeAv1Obu *obu)
{
    size_t n;
    const char *p = luaL_checklstring(L, idx, &n);
    char err[256] = { 0 };
    int r = cme_av1_find_seq_hdr((const uint8_t *)p, n, obu, seq, err, sizeof(err));
    if (r < 0) {
        lua_pushnil(L);
        lua_pushstring(L, r == CME_EOF ? "no sequence header OBU in the buffer" : err);
        lua_pushstring(L, cme_err_name(r));
        return 3;
    }
    return 0;
}

static int l_parse(lua_State *L)
{
    CmeAv1SeqHdr seq;
    CmeAv1Obu obu;
    int n = parse_arg(L, 1, &seq, &obu);
    if (n)
        return n;
    cme__lua_push_seq_hdr(L, &seq);
    char cs[64];
    if (cme_av1_codec_string(&seq, cs, sizeof(cs)) == 0) {
        lua_pushstring(L, cs);
        lua_setfield(L, -2, "codec_string");
    }
    return 1;
}

static int l_codec_string(lua_State *L)
{
    CmeAv1SeqHdr seq;
    CmeAv1Obu obu;
    int n = parse_arg(L, 1, &seq, &obu);
    if (n)
        return n;
    char cs[64];
    if (cme_av1_codec_string(&seq, cs, sizeof(cs)) < 0)
        return luaL_error(L, "codec string does not fit");
    lua_pushstring(L, cs);
    return 1;
}

static int l_invariant(lua_State *L)
{
    CmeAv1SeqHdr a, b;
    CmeAv1Obu oa, ob;
    int n = parse_arg(L, 1, &a, &oa);
    if (n)
        return n;
    n = parse_arg(L, 2, &b, &ob);
    if (n)
        return n;
    static const char *const modes[] = { "cmaf", "strict", NULL };
    int mode = luaL_checkoption(L, 3, "cmaf", modes);
    CmeAv1FieldDiff diffs[64];
    int nd = cme_av1_invariant_compare(&a, oa.data, oa.size, &b, ob.data, ob.size,
                                       mode ? CME_INVARIANT_STRICT : CME_INVARIANT_CMAF, diffs, 64);
    if (nd < 0)
        return luaL_error(L, "invariant comparison failed: %s", cme_strerror(nd));
    lua_pushboolean(L, nd == 0);
    lua_createtable(L, nd, 0);
    for (int i = 0; i < nd && i < 64; i++) {
        lua_createtable(L, 0, 3);
        lua_pushstring(L, diffs[i].field);
        lua_setfield(L, -2, "field");
        lua_pushnumber(L, (lua_Number)diffs[i].a);
        lua_setfield(L, -2, "a");
        lua_pushnumber(L, (lua_Number)diffs[i].b);
        lua_setfield(L, -2, "b");
        lua_rawseti(L, -2, i + 1);
    }
    return 2;
}

void cme__lua_open_av1(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "parse", l_parse },
        { "codec_string", l_codec_string },
        { "invariant", l_invariant },
        { NULL, NULL },
    };
    lua_newtable(L);
    luaL_register(L, NULL, fns);
}
