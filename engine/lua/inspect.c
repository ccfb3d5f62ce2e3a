/*
 * cmafeng.core.inspect(path [, init_path]) -> table | nil, message, code: what a file (.obu,
 * .ivf, init.mp4, .m4s, .mp4; AV1, AAC, Opus or text) holds, as cme_inspect_file reads it;
 * with init_path, a media segment read with its init segment (cme_inspect_segment_file).
 * lua/cmafeng/inspect.lua turns the table into the text and JSON of `cmafeng inspect`.
 *
 *   { path, format = "obu"|"ivf"|"mp4"|"init"|"segment"|"fmp4", kind = "av1"|"audio"|"text",
 *     sample_entry, handler, tracks, channels, sample_rate, sample_bits (audio), language,
 *     codec_config (hex of the AudioSpecificConfig or dOps), edit = { media_time,
 *     duration }, brand, track_id,
 *     timescale, width, height, fragments, sidx = { start, size, references,
 *     earliest_presentation_time, problem }, codec_string, sequence_header = {...},
 *     sequence_header_source = "av1C"|"sample", in_band_sequence_header_differs =
 *     { sample, field }, av1c = {...}, colr = {...},
 *     samples = { { index, offset, size, dts, duration, time, frame_type = "KEY"|...,
 *                   show_existing_frame, has_seq_hdr, sync, av1_sync }, ... } }
 *
 * Keys whose value is unknown are absent (no timescale for a bare segment, no av1C in an
 * IVF file, no time in an .obu without timing_info).
 */
#include <stdio.h>

#include "cmafeng/inspect.h"
#include "lua/bindings.h"
#include "job/verify_files.h"

static void set_num(lua_State *L, const char *k, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void push_av1c(lua_State *L, const CmeAv1Config *c, size_t record_size)
{
    lua_createtable(L, 0, 13);
#define F(name) set_num(L, #name, (lua_Number)c->name)
    F(seq_profile);
    F(seq_level_idx_0);
    F(seq_tier_0);
    F(high_bitdepth);
    F(twelve_bit);
    F(monochrome);
    F(chroma_subsampling_x);
    F(chroma_subsampling_y);
    F(chroma_sample_position);
    F(initial_presentation_delay_present);
    F(initial_presentation_delay_minus_one);
#undef F
    set_num(L, "config_obus_size", (lua_Number)c->config_obus_size);
    set_num(L, "size", (lua_Number)record_size);
}

static void push_sample(lua_State *L, const CmeInspect *pi, size_t i)
{
    const CmeInspectSample *s = &pi->samples[i];
    lua_createtable(L, 0, 12);
    set_num(L, "index", (lua_Number)(i + 1));
    set_num(L, "offset", (lua_Number)s->offset);
    set_num(L, "size", (lua_Number)s->size);
    if (s->has_time) {
        set_num(L, "dts", (lua_Number)s->dts);
        set_num(L, "duration", (lua_Number)s->duration);
        if (pi->timescale)
            set_num(L, "time", (lua_Number)s->dts / pi->timescale);
    }
    set_bool(L, "sync", s->sync);
    if (pi->kind != CME_INSPECT_KIND_AV1)
        return;
    set_str(L, "frame_type", cme_inspect_frame_type_name(s->frame_type));
    set_bool(L, "show_existing_frame", s->show_existing_frame);
    set_num(L, "frame_headers", s->num_frame_headers);
    set_bool(L, "has_seq_hdr", s->has_seq_hdr);
    set_bool(L, "av1_sync", s->av1_sync);
}

static int l_inspect(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *init = luaL_optstring(L, 2, NULL);
    CmeInspect *pi = NULL;
    char err[1024] = { 0 };
    int r = init ? cme_inspect_segment_file(init, path, &pi, err, sizeof(err))
                 : cme_inspect_file(path, &pi, err, sizeof(err));
    if (r < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushstring(L, cme_err_name(r));
        return 3;
    }
    lua_createtable(L, 0, 16);
    set_str(L, "path", path);
    set_str(L, "format", cme_inspect_format_name(pi->format));
    set_str(L, "kind", cme_inspect_kind_name(pi->kind));
    if (init)
        set_str(L, "init", init);
    if (pi->sample_entry[0])
        set_str(L, "sample_entry", pi->sample_entry);
    if (pi->handler[0])
        set_str(L, "handler", pi->handler);
    if (pi->nb_tracks)
        set_num(L, "tracks", pi->nb_tracks);
    if (pi->kind == CME_INSPECT_KIND_AUDIO) {
        set_num(L, "channels", pi->channels);
        set_num(L, "sample_rate", pi->sample_rate);
        set_num(L, "sample_bits", pi->sample_bits);
    }
    if (pi->kind != CME_INSPECT_KIND_AV1 && pi->codec_string[0])
        set_str(L, "codec_string", pi->codec_string);
    if (pi->codec_config_size) {
        luaL_Buffer hex;
        luaL_buffinit(L, &hex);
        for (size_t i = 0; i < pi->codec_config_size && i < 256; i++) {
            char two[3];
            snprintf(two, sizeof(two), "%02x", pi->codec_config[i]);
            luaL_addlstring(&hex, two, 2);
        }
        luaL_pushresult(&hex);
        // stack: result, hex
        lua_setfield(L, -2, "codec_config");
    }
    if (pi->has_edit) {
        lua_createtable(L, 0, 2);
        set_num(L, "media_time", (lua_Number)pi->edit_media_time);
        set_num(L, "duration", (lua_Number)pi->edit_duration);
        lua_setfield(L, -2, "edit");
    }
    if (pi->brand[0])
        set_str(L, "brand", pi->brand);
    if (pi->track_id)
        set_num(L, "track_id", pi->track_id);
    if (pi->timescale)
        set_num(L, "timescale", pi->timescale);
    if (pi->width)
        set_num(L, "width", pi->width);
    if (pi->height)
        set_num(L, "height", pi->height);
    if (pi->format == CME_INSPECT_SEGMENT || pi->format == CME_INSPECT_FMP4)
        set_num(L, "fragments", pi->nb_fragments);
    if (pi->language[0])
        set_str(L, "language", pi->language);
    if (pi->has_sidx) {
        lua_createtable(L, 0, 5);
        set_num(L, "start", (double)pi->sidx_start);
        set_num(L, "size", (double)(pi->sidx_end - pi->sidx_start));
        set_num(L, "references", pi->sidx_references);
        set_num(L, "earliest_presentation_time", (double)pi->sidx_earliest_presentation_time);
        if (pi->sidx_problem[0])
            set_str(L, "problem", pi->sidx_problem);
        lua_setfield(L, -2, "sidx");
    }
    if (pi->has_seq_hdr) {
        if (pi->codec_string[0])
            set_str(L, "codec_string", pi->codec_string);
        cme__lua_push_seq_hdr(L, &pi->seq);
        // stack: result, seq
        lua_setfield(L, -2, "sequence_header");
        set_str(L, "sequence_header_source", pi->seq_from_av1c ? "av1C" : "sample");
        if (pi->seq_differs_sample) {
            lua_createtable(L, 0, 2);
            set_num(L, "sample", (lua_Number)pi->seq_differs_sample);
            set_str(L, "field", pi->seq_differs_field ? pi->seq_differs_field : "?");
            lua_setfield(L, -2, "in_band_sequence_header_differs");
        }
    }
    if (pi->has_av1c) {
        push_av1c(L, &pi->av1c, pi->av1c_size);
        lua_setfield(L, -2, "av1c");
    }
    if (pi->has_colr) {
        lua_createtable(L, 0, 4);
        set_num(L, "colour_primaries", pi->colr_primaries);
        set_num(L, "transfer_characteristics", pi->colr_transfer);
        set_num(L, "matrix_coefficients", pi->colr_matrix);
        set_bool(L, "full_range", pi->colr_full_range);
        lua_setfield(L, -2, "colr");
    }
    if (pi->hdr.has_mastering) {
        /* mdcv, in the shape cmafeng.probe gives: {x, y} per primary, cd/m^2. */
        static const char *const names[4] = { "red", "green", "blue", "white_point" };
        lua_createtable(L, 0, 6);
        for (int i = 0; i < 4; i++) {
            const double *xy = i < 3 ? pi->hdr.primaries[i] : pi->hdr.white_point;
            lua_createtable(L, 2, 0);
            lua_pushnumber(L, xy[0]);
            lua_rawseti(L, -2, 1);
            lua_pushnumber(L, xy[1]);
            lua_rawseti(L, -2, 2);
            lua_setfield(L, -2, names[i]);
        }
        set_num(L, "min_luminance", pi->hdr.min_luminance);
        set_num(L, "max_luminance", pi->hdr.max_luminance);
        lua_setfield(L, -2, "mdcv");
    }
    if (pi->hdr.has_content_light) {
        lua_createtable(L, 0, 2);
        set_num(L, "max_cll", pi->hdr.max_cll);
        set_num(L, "max_fall", pi->hdr.max_fall);
        lua_setfield(L, -2, "clli");
    }
    lua_createtable(L, (int)(pi->nb_samples < 1u << 30 ? pi->nb_samples : 0), 0);
    for (size_t i = 0; i < pi->nb_samples; i++) {
        push_sample(L, pi, i);
        lua_rawseti(L, -2, (int)(i + 1));
    }
    // stack: result, samples
    lua_setfield(L, -2, "samples");
    cme_inspect_free(&pi);
    return 1;
}

/*
 * cmafeng.core.decode({init, seg1, seg2, ...}) -> table | nil, message, code: the files
 * decoded as one track by the verification decoder (media/verify.c: libdav1d for AV1,
 * libavcodec for AAC and Opus).
 *
 *   { kind = "video"|"audio", decoder, sample_entry, timescale, samples (container samples),
 *     frames = { {pts, width, height | nb_samples, file (1-based index into the list)} },
 *     files = { {samples, frames, duration, first_dts}, ... }, pcm_samples, channels,
 *     sample_rate, decode_errors, first_error }
 *
 * Decode errors are part of the answer (they are findings); nil comes back only when
 * nothing could be decoded (unreadable file, unparseable box tree, no decoder).
 */
static int l_decode(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t n = lua_objlen(L, 1);
    if (n == 0)
        return luaL_argerror(L, 1, "expected {init, segment, ...}");
    const char **paths = lua_newuserdata(L, n * sizeof(*paths));
    // stack: list, paths (anchors the array for the GC while it is used)
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (int)(i + 1));
        paths[i] = lua_tostring(L, -1);
        if (!paths[i])
            return luaL_argerror(L, 1, "every entry must be a path");
        lua_pop(L, 1); /* the string stays alive: the list table holds it */
    }
    CmeVerifyResult res;
    char err[1024] = { 0 };
    int r = cme__verify_files(paths, n, &res, err, sizeof(err));
    if (r < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushstring(L, cme_err_name(r));
        return 3;
    }
    lua_createtable(L, 0, 14);
    set_str(L, "kind", res.kind == CME_VERIFY_VIDEO ? "video" : "audio");
    set_str(L, "decoder", res.decoder);
    set_str(L, "sample_entry", res.sample_entry);
    set_num(L, "timescale", res.timescale);
    set_num(L, "samples", (lua_Number)res.nb_samples);
    set_num(L, "decode_errors", res.decode_errors);
    if (res.first_error[0])
        set_str(L, "first_error", res.first_error);
    if (res.kind == CME_VERIFY_AUDIO) {
        set_num(L, "pcm_samples", (lua_Number)res.pcm_samples);
        set_num(L, "channels", res.channels);
        set_num(L, "sample_rate", res.sample_rate);
    }
    lua_createtable(L, (int)(res.nb_frames < 1u << 30 ? res.nb_frames : 0), 0);
    for (size_t i = 0; i < res.nb_frames; i++) {
        const CmeVerifyFrame *fr = &res.frames[i];
        lua_createtable(L, 0, 4);
        set_num(L, "pts", (lua_Number)fr->pts);
        if (res.kind == CME_VERIFY_VIDEO) {
            set_num(L, "width", fr->width);
            set_num(L, "height", fr->height);
        } else {
            set_num(L, "nb_samples", fr->nb_samples);
        }
        set_num(L, "file", fr->file + 1);
        lua_rawseti(L, -2, (int)(i + 1));
    }
    // stack: list, paths, result, frames
    lua_setfield(L, -2, "frames");
    lua_createtable(L, (int)res.nb_files, 0);
    for (size_t i = 0; i < res.nb_files; i++) {
        const CmeVerifyFile *vf = &res.files[i];
        lua_createtable(L, 0, 4);
        set_num(L, "samples", (lua_Number)vf->samples);
        set_num(L, "frames", (lua_Number)vf->frames);
        set_num(L, "duration", (lua_Number)vf->duration);
        if (vf->first_dts >= 0)
            set_num(L, "first_dts", (lua_Number)vf->first_dts);
        lua_rawseti(L, -2, (int)(i + 1));
    }
    lua_setfield(L, -2, "files");
    cme__verify_free(&res);
    return 1;
}

void cme__lua_open_inspect(lua_State *L)
{
    lua_pushcfunction(L, l_inspect);
}

void cme__lua_open_decode(lua_State *L)
{
    lua_pushcfunction(L, l_decode);
}
