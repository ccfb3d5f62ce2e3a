/*
 * sequence_header_obu(), AV1 spec 5.5 (syntax) and 6.4 (semantics).
 *
 * The whole payload is read with the sticky-error bit reader and checked once at the end;
 * the first element that could not be read, or that broke a conformance requirement the
 * parser checks, names the error. Derived values (BitDepth, NumPlanes, OrderHintBits) are
 * filled in, and elements absent from the bitstream get the values the spec infers.
 */
#include <string.h>

#include "av1/bitreader.h"
#include "cmafeng/av1.h"

/* Colour constants of AV1 spec 6.4.2 used by color_config(). */
enum {
    CP_BT_709 = 1,
    CP_UNSPECIFIED = 2,
    TC_UNSPECIFIED = 2,
    TC_SRGB = 13,
    MC_IDENTITY = 0,
    MC_UNSPECIFIED = 2,
    CSP_UNKNOWN = 0,
    SELECT_SCREEN_CONTENT_TOOLS = 2,
    SELECT_INTEGER_MV = 2,
};

/* timing_info(), AV1 spec 5.5.3. */
static void parse_timing_info(CmeBitReader *br, CmeAv1SeqHdr *s)
{
    s->num_units_in_display_tick = cme__br_f(br, 32, "num_units_in_display_tick");
    s->time_scale = cme__br_f(br, 32, "time_scale");
    s->equal_picture_interval = (int)cme__br_f(br, 1, "equal_picture_interval");
    if (s->equal_picture_interval)
        s->num_ticks_per_picture_minus_1 = cme__br_uvlc(br, "num_ticks_per_picture_minus_1");
    if (br->error)
        return;
    /* AV1 spec 6.4.3: both tick values are required to be greater than 0, and
     * num_ticks_per_picture_minus_1 to be at most 2^32 - 2. */
    if (s->num_units_in_display_tick == 0)
        cme__br_fail(br, "num_units_in_display_tick", -1, "must be greater than 0");
    else if (s->time_scale == 0)
        cme__br_fail(br, "time_scale", -1, "must be greater than 0");
    else if (s->equal_picture_interval && s->num_ticks_per_picture_minus_1 == UINT32_MAX)
        cme__br_fail(br, "num_ticks_per_picture_minus_1", -1, "must be less than 2^32 - 1");
}

/* decoder_model_info(), AV1 spec 5.5.4. */
static void parse_decoder_model_info(CmeBitReader *br, CmeAv1SeqHdr *s)
{
    s->buffer_delay_length_minus_1 = (int)cme__br_f(br, 5, "buffer_delay_length_minus_1");
    s->num_units_in_decoding_tick = cme__br_f(br, 32, "num_units_in_decoding_tick");
    s->buffer_removal_time_length_minus_1 =
        (int)cme__br_f(br, 5, "buffer_removal_time_length_minus_1");
    s->frame_presentation_time_length_minus_1 =
        (int)cme__br_f(br, 5, "frame_presentation_time_length_minus_1");
    /* AV1 spec 6.4.4: num_units_in_decoding_tick is required to be greater than 0. */
    if (!br->error && s->num_units_in_decoding_tick == 0)
        cme__br_fail(br, "num_units_in_decoding_tick", -1, "must be greater than 0");
}

/* operating_parameters_info(op), AV1 spec 5.5.5. */
static void parse_operating_parameters_info(CmeBitReader *br, CmeAv1SeqHdr *s, int i)
{
    int n = s->buffer_delay_length_minus_1 + 1;
    s->op[i].decoder_buffer_delay = cme__br_fi(br, n, "decoder_buffer_delay", i);
    s->op[i].encoder_buffer_delay = cme__br_fi(br, n, "encoder_buffer_delay", i);
    s->op[i].low_delay_mode_flag = (int)cme__br_fi(br, 1, "low_delay_mode_flag", i);
}

/* color_config(), AV1 spec 5.5.2, with the semantics of 6.4.2. */
static void parse_color_config(CmeBitReader *br, CmeAv1SeqHdr *s)
{
    CmeAv1ColorConfig *c = &s->color;
    c->high_bitdepth = (int)cme__br_f(br, 1, "high_bitdepth");
    c->twelve_bit = 0;
    if (s->seq_profile == 2 && c->high_bitdepth) {
        c->twelve_bit = (int)cme__br_f(br, 1, "twelve_bit");
        c->bit_depth = c->twelve_bit ? 12 : 10;
    } else {
        c->bit_depth = c->high_bitdepth ? 10 : 8;
    }
    /* Profile 1 (4:4:4) has no monochrome mode, so the flag is not coded. */
    c->mono_chrome = s->seq_profile == 1 ? 0 : (int)cme__br_f(br, 1, "mono_chrome");
    c->num_planes = c->mono_chrome ? 1 : 3;
    c->color_description_present_flag = (int)cme__br_f(br, 1, "color_description_present_flag");
    if (c->color_description_present_flag) {
        c->color_primaries = (int)cme__br_f(br, 8, "color_primaries");
        c->transfer_characteristics = (int)cme__br_f(br, 8, "transfer_characteristics");
        c->matrix_coefficients = (int)cme__br_f(br, 8, "matrix_coefficients");
    } else {
        c->color_primaries = CP_UNSPECIFIED;
        c->transfer_characteristics = TC_UNSPECIFIED;
        c->matrix_coefficients = MC_UNSPECIFIED;
    }
    c->chroma_sample_position = CSP_UNKNOWN;
    c->separate_uv_delta_q = 0;
    if (c->mono_chrome) {
        c->color_range = (int)cme__br_f(br, 1, "color_range");
        c->subsampling_x = c->subsampling_y = 1;
        return; /* separate_uv_delta_q is not coded for monochrome streams. */
    }
    if (c->color_primaries == CP_BT_709 && c->transfer_characteristics == TC_SRGB &&
        c->matrix_coefficients == MC_IDENTITY) {
        /* sRGB: full range 4:4:4 is implied. Only profile 1, or profile 2 at 12 bits, code
         * 4:4:4 (AV1 spec 6.4.2 and the profile table of annex A.2). */
        c->color_range = 1;
        c->subsampling_x = c->subsampling_y = 0;
        if (!br->error && !(s->seq_profile == 1 || (s->seq_profile == 2 && c->bit_depth == 12)))
            cme__br_fail(br, "seq_profile", -1, "sRGB (4:4:4) needs profile 1 or 12-bit profile 2");
    } else {
        c->color_range = (int)cme__br_f(br, 1, "color_range");
        if (s->seq_profile == 0) {
            c->subsampling_x = c->subsampling_y = 1;
        } else if (s->seq_profile == 1) {
            c->subsampling_x = c->subsampling_y = 0;
        } else if (c->bit_depth == 12) {
            c->subsampling_x = (int)cme__br_f(br, 1, "subsampling_x");
            c->subsampling_y = c->subsampling_x ? (int)cme__br_f(br, 1, "subsampling_y") : 0;
        } else {
            c->subsampling_x = 1; /* 8/10-bit profile 2 is 4:2:2. */
            c->subsampling_y = 0;
        }
        if (c->subsampling_x && c->subsampling_y)
            c->chroma_sample_position = (int)cme__br_f(br, 2, "chroma_sample_position");
    }
    c->separate_uv_delta_q = (int)cme__br_f(br, 1, "separate_uv_delta_q");
}

/*
 * trailing_bits(), AV1 spec 5.3.4: a one bit, then zero bits to the byte boundary. The OBU
 * may carry more zero bytes (padding is harmless and dav1d accepts it); any other byte after
 * the header is rejected as garbage.
 */
static void check_trailing_bits(CmeBitReader *br)
{
    if (br->error)
        return;
    if (cme__br_f(br, 1, "trailing_one_bit") != 1) {
        cme__br_fail(br, "trailing_one_bit", -1, "not 1 (garbage after the sequence header)");
        return;
    }
    while (!br->error && (br->bitpos & 7))
        if (cme__br_f(br, 1, "trailing_zero_bit") != 0)
            cme__br_fail(br, "trailing_zero_bit", -1, "not 0");
    for (size_t i = br->bitpos >> 3; !br->error && i < br->size; i++)
        if (br->buf[i] != 0)
            cme__br_fail(br, "trailing_bits", -1, "nonzero data after the sequence header");
}

/* sequence_header_obu(), AV1 spec 5.5.1. */
static void parse_seq_hdr(CmeBitReader *br, CmeAv1SeqHdr *s)
{
    s->seq_profile = (int)cme__br_f(br, 3, "seq_profile");
    if (!br->error && s->seq_profile > 2)
        cme__br_fail(br, "seq_profile", -1, "reserved value");
    s->still_picture = (int)cme__br_f(br, 1, "still_picture");
    s->reduced_still_picture_header = (int)cme__br_f(br, 1, "reduced_still_picture_header");
    /* AV1 spec 6.4.1: a reduced header is only allowed for still pictures. */
    if (!br->error && s->reduced_still_picture_header && !s->still_picture)
        cme__br_fail(br, "reduced_still_picture_header", -1, "set without still_picture");

    if (s->reduced_still_picture_header) {
        /* Everything but seq_level_idx[0] takes its inferred value (zeroed by the caller). */
        s->operating_points_cnt_minus_1 = 0;
        s->op[0].seq_level_idx = (int)cme__br_fi(br, 5, "seq_level_idx", 0);
    } else {
        s->timing_info_present_flag = (int)cme__br_f(br, 1, "timing_info_present_flag");
        if (s->timing_info_present_flag) {
            parse_timing_info(br, s);
            s->decoder_model_info_present_flag =
                (int)cme__br_f(br, 1, "decoder_model_info_present_flag");
            if (s->decoder_model_info_present_flag)
                parse_decoder_model_info(br, s);
        }
        s->initial_display_delay_present_flag =
            (int)cme__br_f(br, 1, "initial_display_delay_present_flag");
        s->operating_points_cnt_minus_1 = (int)cme__br_f(br, 5, "operating_points_cnt_minus_1");
        for (int i = 0; i <= s->operating_points_cnt_minus_1 && !br->error; i++) {
            CmeAv1OperatingPoint *op = &s->op[i];
            op->idc = (int)cme__br_fi(br, 12, "operating_point_idc", i);
            /* AV1 spec 6.4.1 / 7.1: a nonzero idc selects at least one temporal layer
             * (low 8 bits) and one spatial layer (high 4 bits). */
            if (!br->error && op->idc != 0 && (!(op->idc & 0xff) || !(op->idc >> 8)))
                cme__br_fail(br, "operating_point_idc", i, "selects no layer");
            op->seq_level_idx = (int)cme__br_fi(br, 5, "seq_level_idx", i);
            /* Tiers exist from level 4.0 (seq_level_idx 8) on. */
            op->seq_tier = op->seq_level_idx > 7 ? (int)cme__br_fi(br, 1, "seq_tier", i) : 0;
            if (s->decoder_model_info_present_flag) {
                op->decoder_model_present_for_this_op =
                    (int)cme__br_fi(br, 1, "decoder_model_present_for_this_op", i);
                if (op->decoder_model_present_for_this_op)
                    parse_operating_parameters_info(br, s, i);
            }
            if (s->initial_display_delay_present_flag) {
                op->initial_display_delay_present_for_this_op =
                    (int)cme__br_fi(br, 1, "initial_display_delay_present_for_this_op", i);
                if (op->initial_display_delay_present_for_this_op)
                    op->initial_display_delay_minus_1 =
                        (int)cme__br_fi(br, 4, "initial_display_delay_minus_1", i);
            }
        }
    }

    s->frame_width_bits_minus_1 = (int)cme__br_f(br, 4, "frame_width_bits_minus_1");
    s->frame_height_bits_minus_1 = (int)cme__br_f(br, 4, "frame_height_bits_minus_1");
    s->max_frame_width_minus_1 =
        (int)cme__br_f(br, s->frame_width_bits_minus_1 + 1, "max_frame_width_minus_1");
    s->max_frame_height_minus_1 =
        (int)cme__br_f(br, s->frame_height_bits_minus_1 + 1, "max_frame_height_minus_1");
    if (!s->reduced_still_picture_header)
        s->frame_id_numbers_present_flag = (int)cme__br_f(br, 1, "frame_id_numbers_present_flag");
    if (s->frame_id_numbers_present_flag) {
        s->delta_frame_id_length_minus_2 = (int)cme__br_f(br, 4, "delta_frame_id_length_minus_2");
        s->additional_frame_id_length_minus_1 =
            (int)cme__br_f(br, 3, "additional_frame_id_length_minus_1");
        /* AV1 spec 6.8.2: idLen = additional + delta + 3 must not exceed 16. */
        if (!br->error &&
            s->additional_frame_id_length_minus_1 + s->delta_frame_id_length_minus_2 + 3 > 16)
            cme__br_fail(br, "additional_frame_id_length_minus_1", -1,
                         "frame id length exceeds 16 bits");
    }
    s->use_128x128_superblock = (int)cme__br_f(br, 1, "use_128x128_superblock");
    s->enable_filter_intra = (int)cme__br_f(br, 1, "enable_filter_intra");
    s->enable_intra_edge_filter = (int)cme__br_f(br, 1, "enable_intra_edge_filter");
    if (s->reduced_still_picture_header) {
        /* Inferred values, AV1 spec 5.5.1. seq_choose_* are not coded; 1 mirrors the
         * SELECT_* values that the force flags take. */
        s->seq_choose_screen_content_tools = 1;
        s->seq_force_screen_content_tools = SELECT_SCREEN_CONTENT_TOOLS;
        s->seq_choose_integer_mv = 1;
        s->seq_force_integer_mv = SELECT_INTEGER_MV;
        s->order_hint_bits = 0;
    } else {
        s->enable_interintra_compound = (int)cme__br_f(br, 1, "enable_interintra_compound");
        s->enable_masked_compound = (int)cme__br_f(br, 1, "enable_masked_compound");
        s->enable_warped_motion = (int)cme__br_f(br, 1, "enable_warped_motion");
        s->enable_dual_filter = (int)cme__br_f(br, 1, "enable_dual_filter");
        s->enable_order_hint = (int)cme__br_f(br, 1, "enable_order_hint");
        if (s->enable_order_hint) {
            s->enable_jnt_comp = (int)cme__br_f(br, 1, "enable_jnt_comp");
            s->enable_ref_frame_mvs = (int)cme__br_f(br, 1, "enable_ref_frame_mvs");
        }
        s->seq_choose_screen_content_tools =
            (int)cme__br_f(br, 1, "seq_choose_screen_content_tools");
        s->seq_force_screen_content_tools =
            s->seq_choose_screen_content_tools
                ? SELECT_SCREEN_CONTENT_TOOLS
                : (int)cme__br_f(br, 1, "seq_force_screen_content_tools");
        if (s->seq_force_screen_content_tools > 0) {
            s->seq_choose_integer_mv = (int)cme__br_f(br, 1, "seq_choose_integer_mv");
            s->seq_force_integer_mv = s->seq_choose_integer_mv
                                          ? SELECT_INTEGER_MV
                                          : (int)cme__br_f(br, 1, "seq_force_integer_mv");
        } else {
            s->seq_choose_integer_mv = 0;
            s->seq_force_integer_mv = SELECT_INTEGER_MV;
        }
        if (s->enable_order_hint)
            s->order_hint_bits = (int)cme__br_f(br, 3, "order_hint_bits_minus_1") + 1;
    }
    s->enable_superres = (int)cme__br_f(br, 1, "enable_superres");
    s->enable_cdef = (int)cme__br_f(br, 1, "enable_cdef");
    s->enable_restoration = (int)cme__br_f(br, 1, "enable_restoration");
    parse_color_config(br, s);
    s->film_grain_params_present = (int)cme__br_f(br, 1, "film_grain_params_present");
    check_trailing_bits(br);
}

int cme_av1_parse_seq_hdr(const uint8_t *payload, size_t size, CmeAv1SeqHdr *out, char *err,
                          size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || (!payload && size)) {
        cme__av1_errf(err, errlen, "cme_av1_parse_seq_hdr: invalid argument");
        return CME_EINVAL;
    }
    CmeAv1SeqHdr s;
    memset(&s, 0, sizeof(s));
    CmeBitReader br;
    cme__br_init(&br, payload, size);
    parse_seq_hdr(&br, &s);
    if (br.error) {
        cme__br_message(&br, err, errlen);
        return CME_EBITSTREAM;
    }
    *out = s;
    return 0;
}
