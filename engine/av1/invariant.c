/*
 * The codec invariant of a rung (DESIGN.md section 3): two sequence headers compared field by
 * field.
 *
 * CMAF mode compares what the AV1-ISOBMFF CMAF track constraints and the single sample entry
 * fix: seq_profile, still_picture, seq_level_idx[0], seq_tier[0], the whole color_config,
 * the initial presentation delay of operating point 0 (what av1C carries) and the maximum
 * frame size (the sample entry's width and height).
 *
 * STRICT mode requires the sequence header OBUs to be identical except for
 * operating_parameters_info() (AV1 spec 7.5 allows exactly that difference inside one coded
 * video sequence). Rather than re-serialising the header without those fields, every parsed
 * field is compared except decoder_buffer_delay, encoder_buffer_delay and
 * low_delay_mode_flag of each operating point: the parser keeps every coded element, so equal
 * fields mean equal bits up to operating_parameters_info. When neither header has
 * decoder_model_info (so neither has operating_parameters_info), the payload bytes are
 * compared too, which also catches differences the fields cannot show (trailing padding).
 */
#include <stddef.h>

#include "cmafeng/av1.h"

typedef struct Field {
    const char *name;
    size_t offset; /* into CmeAv1SeqHdr */
    int is_u32;
} Field;

#define INT_FIELD(name, member)                 \
    {                                           \
        name, offsetof(CmeAv1SeqHdr, member), 0 \
    }
#define U32_FIELD(name, member)                 \
    {                                           \
        name, offsetof(CmeAv1SeqHdr, member), 1 \
    }

/* The fields that CMAF mode compares, in the order they are reported. */
static const Field cmaf_fields[] = {
    INT_FIELD("seq_profile", seq_profile),
    INT_FIELD("still_picture", still_picture),
    INT_FIELD("seq_level_idx[0]", op[0].seq_level_idx),
    INT_FIELD("seq_tier[0]", op[0].seq_tier),
    INT_FIELD("color_config.bit_depth", color.bit_depth),
    INT_FIELD("color_config.mono_chrome", color.mono_chrome),
    INT_FIELD("color_config.color_description_present_flag", color.color_description_present_flag),
    INT_FIELD("color_config.color_primaries", color.color_primaries),
    INT_FIELD("color_config.transfer_characteristics", color.transfer_characteristics),
    INT_FIELD("color_config.matrix_coefficients", color.matrix_coefficients),
    INT_FIELD("color_config.color_range", color.color_range),
    INT_FIELD("color_config.subsampling_x", color.subsampling_x),
    INT_FIELD("color_config.subsampling_y", color.subsampling_y),
    INT_FIELD("color_config.chroma_sample_position", color.chroma_sample_position),
    INT_FIELD("color_config.separate_uv_delta_q", color.separate_uv_delta_q),
    INT_FIELD("initial_display_delay_present_for_this_op[0]",
              op[0].initial_display_delay_present_for_this_op),
    INT_FIELD("initial_display_delay_minus_1[0]", op[0].initial_display_delay_minus_1),
    INT_FIELD("max_frame_width_minus_1", max_frame_width_minus_1),
    INT_FIELD("max_frame_height_minus_1", max_frame_height_minus_1),
};

/* The sequence-level fields that STRICT mode compares besides the per-operating-point ones. */
static const Field strict_fields[] = {
    INT_FIELD("seq_profile", seq_profile),
    INT_FIELD("still_picture", still_picture),
    INT_FIELD("reduced_still_picture_header", reduced_still_picture_header),
    INT_FIELD("timing_info_present_flag", timing_info_present_flag),
    U32_FIELD("num_units_in_display_tick", num_units_in_display_tick),
    U32_FIELD("time_scale", time_scale),
    INT_FIELD("equal_picture_interval", equal_picture_interval),
    U32_FIELD("num_ticks_per_picture_minus_1", num_ticks_per_picture_minus_1),
    INT_FIELD("decoder_model_info_present_flag", decoder_model_info_present_flag),
    INT_FIELD("buffer_delay_length_minus_1", buffer_delay_length_minus_1),
    U32_FIELD("num_units_in_decoding_tick", num_units_in_decoding_tick),
    INT_FIELD("buffer_removal_time_length_minus_1", buffer_removal_time_length_minus_1),
    INT_FIELD("frame_presentation_time_length_minus_1", frame_presentation_time_length_minus_1),
    INT_FIELD("initial_display_delay_present_flag", initial_display_delay_present_flag),
    INT_FIELD("operating_points_cnt_minus_1", operating_points_cnt_minus_1),
    INT_FIELD("frame_width_bits_minus_1", frame_width_bits_minus_1),
    INT_FIELD("frame_height_bits_minus_1", frame_height_bits_minus_1),
    INT_FIELD("max_frame_width_minus_1", max_frame_width_minus_1),
    INT_FIELD("max_frame_height_minus_1", max_frame_height_minus_1),
    INT_FIELD("frame_id_numbers_present_flag", frame_id_numbers_present_flag),
    INT_FIELD("delta_frame_id_length_minus_2", delta_frame_id_length_minus_2),
    INT_FIELD("additional_frame_id_length_minus_1", additional_frame_id_length_minus_1),
    INT_FIELD("use_128x128_superblock", use_128x128_superblock),
    INT_FIELD("enable_filter_intra", enable_filter_intra),
    INT_FIELD("enable_intra_edge_filter", enable_intra_edge_filter),
    INT_FIELD("enable_interintra_compound", enable_interintra_compound),
    INT_FIELD("enable_masked_compound", enable_masked_compound),
    INT_FIELD("enable_warped_motion", enable_warped_motion),
    INT_FIELD("enable_dual_filter", enable_dual_filter),
    INT_FIELD("enable_order_hint", enable_order_hint),
    INT_FIELD("enable_jnt_comp", enable_jnt_comp),
    INT_FIELD("enable_ref_frame_mvs", enable_ref_frame_mvs),
    INT_FIELD("seq_choose_screen_content_tools", seq_choose_screen_content_tools),
    INT_FIELD("seq_force_screen_content_tools", seq_force_screen_content_tools),
    INT_FIELD("seq_choose_integer_mv", seq_choose_integer_mv),
    INT_FIELD("seq_force_integer_mv", seq_force_integer_mv),
    INT_FIELD("order_hint_bits", order_hint_bits),
    INT_FIELD("enable_superres", enable_superres),
    INT_FIELD("enable_cdef", enable_cdef),
    INT_FIELD("enable_restoration", enable_restoration),
    INT_FIELD("color_config.high_bitdepth", color.high_bitdepth),
    INT_FIELD("color_config.twelve_bit", color.twelve_bit),
    INT_FIELD("color_config.bit_depth", color.bit_depth),
    INT_FIELD("color_config.mono_chrome", color.mono_chrome),
    INT_FIELD("color_config.color_description_present_flag", color.color_description_present_flag),
    INT_FIELD("color_config.color_primaries", color.color_primaries),
    INT_FIELD("color_config.transfer_characteristics", color.transfer_characteristics),
    INT_FIELD("color_config.matrix_coefficients", color.matrix_coefficients),
    INT_FIELD("color_config.color_range", color.color_range),
    INT_FIELD("color_config.subsampling_x", color.subsampling_x),
    INT_FIELD("color_config.subsampling_y", color.subsampling_y),
    INT_FIELD("color_config.chroma_sample_position", color.chroma_sample_position),
    INT_FIELD("color_config.separate_uv_delta_q", color.separate_uv_delta_q),
    INT_FIELD("film_grain_params_present", film_grain_params_present),
};

/* Static names "field[i]" for the per-operating-point fields of STRICT mode. */
#define IDX8(f, b)                                                                            \
    f "[" #b "0]", f "[" #b "1]", f "[" #b "2]", f "[" #b "3]", f "[" #b "4]", f "[" #b "5]", \
        f "[" #b "6]", f "[" #b "7]"
#define IDX32(f)                                                                                  \
    {                                                                                             \
        f "[0]", f "[1]", f "[2]", f "[3]", f "[4]", f "[5]", f "[6]", f "[7]", f "[8]", f "[9]", \
            IDX8(f, 1), f "[18]", f "[19]", IDX8(f, 2), f "[28]", f "[29]", f "[30]", f "[31]"    \
    }

/* IDX8(f, 1) yields [10]..[17] and IDX8(f, 2) [20]..[27]; the stragglers are listed. */
static const char *const op_idc_names[32] = IDX32("operating_point_idc");
static const char *const op_level_names[32] = IDX32("seq_level_idx");
static const char *const op_tier_names[32] = IDX32("seq_tier");
static const char *const op_dm_names[32] = IDX32("decoder_model_present_for_this_op");
static const char *const op_iddp_names[32] = IDX32("initial_display_delay_present_for_this_op");
static const char *const op_idd_names[32] = IDX32("initial_display_delay_minus_1");

typedef struct Diffs {
    CmeAv1FieldDiff *out;
    int max;
    int count;
} Diffs;

static void add_diff(Diffs *d, const char *name, long long a, long long b)
{
    if (a == b)
        return;
    if (d->out && d->count < d->max) {
        d->out[d->count].field = name;
        d->out[d->count].a = a;
        d->out[d->count].b = b;
    }
    d->count++;
}

static long long field_value(const CmeAv1SeqHdr *s, const Field *f)
{
    const char *base = (const char *)s + f->offset;
    if (f->is_u32)
        return *(const uint32_t *)(const void *)base;
    return *(const int *)(const void *)base;
}

static void compare_fields(Diffs *d, const CmeAv1SeqHdr *a, const CmeAv1SeqHdr *b,
                           const Field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++)
        add_diff(d, fields[i].name, field_value(a, &fields[i]), field_value(b, &fields[i]));
}

/* Extracts the payload of a sequence header OBU given whole. */
static int seq_payload(const uint8_t *obu, size_t size, const uint8_t **payload, size_t *psize)
{
    const uint8_t *p = obu;
    size_t left = size;
    CmeAv1Obu o;
    if (cme_av1_obu_next(&p, &left, &o, NULL, 0) != 1 || o.type != CME_OBU_SEQUENCE_HEADER)
        return CME_EBITSTREAM;
    *payload = o.payload;
    *psize = o.payload_size;
    return 0;
}

int cme_av1_invariant_compare(const CmeAv1SeqHdr *a, const uint8_t *a_obu, size_t a_obu_size,
                              const CmeAv1SeqHdr *b, const uint8_t *b_obu, size_t b_obu_size,
                              CmeInvariantMode mode, CmeAv1FieldDiff *diffs, int max_diffs)
{
    if (!a || !b || max_diffs < 0 || (max_diffs > 0 && !diffs))
        return CME_EINVAL;
    Diffs d = { diffs, max_diffs, 0 };
    if (mode == CME_INVARIANT_CMAF) {
        compare_fields(&d, a, b, cmaf_fields, sizeof(cmaf_fields) / sizeof(cmaf_fields[0]));
        return d.count;
    }
    if (mode != CME_INVARIANT_STRICT)
        return CME_EINVAL;
    if (!a_obu || !b_obu)
        return CME_EINVAL;

    compare_fields(&d, a, b, strict_fields, sizeof(strict_fields) / sizeof(strict_fields[0]));
    int nops = a->operating_points_cnt_minus_1 > b->operating_points_cnt_minus_1
                   ? a->operating_points_cnt_minus_1 + 1
                   : b->operating_points_cnt_minus_1 + 1;
    if (nops > CME_AV1_MAX_OPERATING_POINTS)
        nops = CME_AV1_MAX_OPERATING_POINTS;
    for (int i = 0; i < nops; i++) {
        const CmeAv1OperatingPoint *x = &a->op[i], *y = &b->op[i];
        add_diff(&d, op_idc_names[i], x->idc, y->idc);
        add_diff(&d, op_level_names[i], x->seq_level_idx, y->seq_level_idx);
        add_diff(&d, op_tier_names[i], x->seq_tier, y->seq_tier);
        add_diff(&d, op_dm_names[i], x->decoder_model_present_for_this_op,
                 y->decoder_model_present_for_this_op);
        add_diff(&d, op_iddp_names[i], x->initial_display_delay_present_for_this_op,
                 y->initial_display_delay_present_for_this_op);
        add_diff(&d, op_idd_names[i], x->initial_display_delay_minus_1,
                 y->initial_display_delay_minus_1);
    }

    if (d.count == 0 && !a->decoder_model_info_present_flag &&
        !b->decoder_model_info_present_flag) {
        const uint8_t *pa, *pb;
        size_t na, nb;
        if (seq_payload(a_obu, a_obu_size, &pa, &na) < 0 ||
            seq_payload(b_obu, b_obu_size, &pb, &nb) < 0)
            return CME_EBITSTREAM;
        if (na != nb) {
            add_diff(&d, "sequence_header_obu.payload_size", (long long)na, (long long)nb);
        } else {
            for (size_t i = 0; i < na; i++) {
                if (pa[i] != pb[i]) {
                    add_diff(&d, "sequence_header_obu.payload_byte", pa[i], pb[i]);
                    break;
                }
            }
        }
    }
    return d.count;
}
