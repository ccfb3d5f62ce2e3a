/*
 * cmafeng — AV1 bitstream layer: OBU walking, sequence header parsing (AV1 spec 5.5),
 * AV1CodecConfigurationRecord (AV1-ISOBMFF 2.3), the codecs parameter string
 * (AV1-ISOBMFF annex A) and the codec invariant (DESIGN.md section 3).
 *
 * Everything here reads untrusted bytes: no function reads outside [buf, buf+size), none
 * aborts; failures return a negative CME_E* code and, where an `err` buffer is given,
 * a message naming the syntax element that failed. Nothing here needs an engine.
 */
#ifndef CMAFENG_AV1_H
#define CMAFENG_AV1_H

#include "cmafeng/common.h"

/* OBU types, AV1 spec 6.2.2. */
enum {
    CME_OBU_SEQUENCE_HEADER = 1,
    CME_OBU_TEMPORAL_DELIMITER = 2,
    CME_OBU_FRAME_HEADER = 3,
    CME_OBU_TILE_GROUP = 4,
    CME_OBU_METADATA = 5,
    CME_OBU_FRAME = 6,
    CME_OBU_REDUNDANT_FRAME_HEADER = 7,
    CME_OBU_TILE_LIST = 8,
    CME_OBU_PADDING = 15,
};

typedef struct CmeAv1Obu {
    int type;
    int has_extension;
    int temporal_id, spatial_id;
    int has_size_field;
    const uint8_t *data;    /* the whole OBU, header included */
    size_t size;            /* header + payload */
    const uint8_t *payload; /* obu payload (after header and leb128 size) */
    size_t payload_size;
} CmeAv1Obu;

/*
 * Reads the OBU at *p (low-overhead format, AV1 spec 5.2/5.3) and advances *p and *left
 * past it. Returns 1 when an OBU was read, 0 when *left is 0, or a negative error.
 * An OBU without obu_has_size_field extends to the end of the buffer.
 */
CME_API int cme_av1_obu_next(const uint8_t **p, size_t *left, CmeAv1Obu *obu, char *err,
                             size_t errlen);

/* Frame-level facts about one temporal unit (enough for muxing and inspection). */
typedef struct CmeAv1TuInfo {
    int has_seq_hdr;
    int frame_type;          /* of the shown frame: 0 KEY, 1 INTER, 2 INTRA_ONLY, 3 SWITCH; -1 none,
                              * or a show_existing_frame (its type is a decoder's reference state) */
    int show_frame;          /* a frame header with show_frame = 1 */
    int show_existing_frame; /* a frame header with show_existing_frame = 1 */
    int is_sync;             /* a shown key frame with a sequence header: an MP4 sync sample */
    int num_frame_headers;
} CmeAv1TuInfo;

struct CmeAv1SeqHdr;
/*
 * Walks a temporal unit and fills info. Frame headers are parsed with the TU's own sequence
 * header when it has one (it applies to the frames after it, AV1 spec 7.5), else with seq;
 * when neither exists a frame header is an error. Frame headers are parsed only as far as
 * frame_type/show_frame/show_existing_frame (AV1 spec 5.9.2). seq may be NULL.
 */
CME_API int cme_av1_tu_info(const uint8_t *tu, size_t size, const struct CmeAv1SeqHdr *seq,
                            CmeAv1TuInfo *info, char *err, size_t errlen);

#define CME_AV1_MAX_OPERATING_POINTS 32

typedef struct CmeAv1OperatingPoint {
    int idc;
    int seq_level_idx;
    int seq_tier;
    int decoder_model_present_for_this_op;
    uint32_t decoder_buffer_delay;
    uint32_t encoder_buffer_delay;
    int low_delay_mode_flag;
    int initial_display_delay_present_for_this_op;
    int initial_display_delay_minus_1;
} CmeAv1OperatingPoint;

typedef struct CmeAv1ColorConfig {
    int high_bitdepth;
    int twelve_bit;
    int bit_depth; /* BitDepth: 8, 10 or 12 */
    int mono_chrome;
    int num_planes;
    int color_description_present_flag;
    int color_primaries;
    int transfer_characteristics;
    int matrix_coefficients;
    int color_range;
    int subsampling_x;
    int subsampling_y;
    int chroma_sample_position;
    int separate_uv_delta_q;
} CmeAv1ColorConfig;

typedef struct CmeAv1SeqHdr {
    int seq_profile;
    int still_picture;
    int reduced_still_picture_header;
    int timing_info_present_flag;
    uint32_t num_units_in_display_tick;
    uint32_t time_scale;
    int equal_picture_interval;
    uint32_t num_ticks_per_picture_minus_1;
    int decoder_model_info_present_flag;
    int buffer_delay_length_minus_1;
    uint32_t num_units_in_decoding_tick;
    int buffer_removal_time_length_minus_1;
    int frame_presentation_time_length_minus_1;
    int initial_display_delay_present_flag;
    int operating_points_cnt_minus_1;
    CmeAv1OperatingPoint op[CME_AV1_MAX_OPERATING_POINTS];
    int frame_width_bits_minus_1;
    int frame_height_bits_minus_1;
    int max_frame_width_minus_1;
    int max_frame_height_minus_1;
    int frame_id_numbers_present_flag;
    int delta_frame_id_length_minus_2;
    int additional_frame_id_length_minus_1;
    int use_128x128_superblock;
    int enable_filter_intra;
    int enable_intra_edge_filter;
    int enable_interintra_compound;
    int enable_masked_compound;
    int enable_warped_motion;
    int enable_dual_filter;
    int enable_order_hint;
    int enable_jnt_comp;
    int enable_ref_frame_mvs;
    int seq_choose_screen_content_tools;
    int seq_force_screen_content_tools;
    int seq_choose_integer_mv;
    int seq_force_integer_mv;
    int order_hint_bits; /* OrderHintBits (0 when order hints are disabled) */
    int enable_superres;
    int enable_cdef;
    int enable_restoration;
    CmeAv1ColorConfig color;
    int film_grain_params_present;
} CmeAv1SeqHdr;

/*
 * Parses a sequence_header_obu payload (the OBU payload, not the OBU header) into out.
 * Returns 0, or CME_EBITSTREAM with err naming the syntax element that failed
 * ("seq_level_idx[2]: truncated").
 */
CME_API int cme_av1_parse_seq_hdr(const uint8_t *payload, size_t size, CmeAv1SeqHdr *out, char *err,
                                  size_t errlen);

/*
 * Finds the first sequence header OBU in a buffer of OBUs (a TU or configOBUs) and parses
 * it. On success *obu describes the OBU inside buf. Returns 0, CME_EBITSTREAM, or
 * CME_EOF when the buffer holds no sequence header.
 */
CME_API int cme_av1_find_seq_hdr(const uint8_t *buf, size_t size, CmeAv1Obu *obu, CmeAv1SeqHdr *out,
                                 char *err, size_t errlen);

/*
 * AV1CodecConfigurationRecord (AV1-ISOBMFF 2.3.3): 4 bytes of fields from the sequence
 * header followed by configOBUs (here: the sequence header OBU, given whole with its OBU
 * header, copied as is). Writes at most cap bytes; *written gets the record size. CME_ENOSPC
 * when cap is too small. initial_presentation_delay is taken from operating point 0's
 * initial_display_delay_minus_1 when present (FFmpeg always writes "not present").
 */
CME_API int cme_av1_write_av1c(const CmeAv1SeqHdr *seq, const uint8_t *seq_obu, size_t seq_obu_size,
                               uint8_t *out, size_t cap, size_t *written);

typedef struct CmeAv1Config {
    int seq_profile, seq_level_idx_0, seq_tier_0;
    int high_bitdepth, twelve_bit, monochrome;
    int chroma_subsampling_x, chroma_subsampling_y, chroma_sample_position;
    int initial_presentation_delay_present, initial_presentation_delay_minus_one;
    const uint8_t *config_obus; /* points into the record */
    size_t config_obus_size;
} CmeAv1Config;

/* Reads an av1C payload (the box body, without size/type). */
CME_API int cme_av1_read_av1c(const uint8_t *buf, size_t size, CmeAv1Config *out, char *err,
                              size_t errlen);

/*
 * The codecs parameter string (AV1-ISOBMFF annex A): "av01.0.04M.08" when the optional
 * fields equal their defaults (mono_chrome 0, 4:2:0 with chroma_sample_position 0,
 * BT.709 primaries/transfer/matrix, limited range), otherwise the full form
 * "av01.P.LLT.DD.M.CCC.cp.tc.mc.F". Without a colour description cp/tc/mc take their
 * defaults (01); F is color_range either way. Returns 0, CME_EINVAL or CME_ENOSPC (out is
 * then "").
 */
CME_API int cme_av1_codec_string(const CmeAv1SeqHdr *seq, char *out, size_t cap);

typedef enum CmeInvariantMode {
    CME_INVARIANT_CMAF = 0,   /* fields the CMAF AV1 track constraints fix, plus max frame size */
    CME_INVARIANT_STRICT = 1, /* byte-identical sequence header except operating_parameters_info */
} CmeInvariantMode;

typedef enum CmeInvariantOutcome {
    CME_INVARIANT_SET = 0,
    CME_INVARIANT_MATCH = 1,
    CME_INVARIANT_MISMATCH = 2,
    CME_INVARIANT_MALFORMED = 3,
} CmeInvariantOutcome;

typedef struct CmeAv1FieldDiff {
    const char *field; /* static string, e.g. "color_config.color_range" */
    long long a, b;
} CmeAv1FieldDiff;

/*
 * Compares two sequence headers under a mode. a_obu/b_obu are the sequence header OBUs
 * (needed by STRICT mode; may be NULL in CMAF mode). Writes up to max_diffs differences
 * and returns the total number of differing fields (0 = match), or a negative error.
 * STRICT compares every parsed field except each operating point's decoder_buffer_delay,
 * encoder_buffer_delay and low_delay_mode_flag, plus the payload bytes when neither header
 * has decoder_model_info (see engine/av1/invariant.c).
 */
CME_API int cme_av1_invariant_compare(const CmeAv1SeqHdr *a, const uint8_t *a_obu,
                                      size_t a_obu_size, const CmeAv1SeqHdr *b,
                                      const uint8_t *b_obu, size_t b_obu_size,
                                      CmeInvariantMode mode, CmeAv1FieldDiff *diffs, int max_diffs);

/* HDR10 static metadata: the SMPTE ST 2086 mastering display colour volume and the CTA-861.3
 * content light level. The encoder writes them as AV1 metadata OBUs (AV1 6.7.3, 6.7.4) and
 * the init segment as the sample entry's mdcv and clli boxes, which AV1-ISOBMFF (sample entry
 * semantics) asks for on HDR content, with values matching the OBUs. */
typedef struct CmeHdrMetadata {
    int has_mastering;
    double primaries[3][2];              /* CIE 1931 x, y of the red, green and blue primaries */
    double white_point[2];               /* CIE 1931 x, y */
    double min_luminance, max_luminance; /* cd/m^2 */
    int has_content_light;
    unsigned max_cll, max_fall; /* cd/m^2, at most 65535 */
} CmeHdrMetadata;

#endif /* CMAFENG_AV1_H */
