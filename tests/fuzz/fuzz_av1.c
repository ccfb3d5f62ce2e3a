/*
 * libFuzzer target for the AV1 bitstream layer: every parser of untrusted bytes in
 * engine/av1/ (the OBU walker, temporal unit facts, sequence headers, av1C) on the same
 * input, plus the writers fed with whatever parsed (dav1d tests/libfuzzer/ style).
 * Built and run by run_fuzz.sh; a crash found here becomes a test in tests/c/test_av1.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cmafeng/av1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[96];
    CmeAv1Obu obu;
    const uint8_t *p = data;
    size_t left = size;
    while (cme_av1_obu_next(&p, &left, &obu, err, sizeof(err)) > 0) {
        /* The walker must stay inside the input. */
        if (obu.data < data || obu.payload + obu.payload_size > data + size)
            __builtin_trap();
    }

    CmeAv1TuInfo ti;
    (void)cme_av1_tu_info(data, size, NULL, &ti, err, sizeof(err));

    CmeAv1SeqHdr seq;
    (void)cme_av1_parse_seq_hdr(data, size, &seq, err, sizeof(err));

    if (cme_av1_find_seq_hdr(data, size, &obu, &seq, err, sizeof(err)) == 0) {
        (void)cme_av1_tu_info(data, size, &seq, &ti, err, sizeof(err));
        char cs[64];
        if (cme_av1_codec_string(&seq, cs, sizeof(cs)) != 0)
            __builtin_trap(); /* 64 bytes always suffice */
        uint8_t rec[4096];
        size_t n = 0;
        if (cme_av1_write_av1c(&seq, obu.data, obu.size, rec, sizeof(rec), &n) == 0) {
            CmeAv1Config cfg;
            if (cme_av1_read_av1c(rec, n, &cfg, err, sizeof(err)) != 0)
                __builtin_trap(); /* what we write we must read */
            CmeAv1SeqHdr again;
            if (cme_av1_find_seq_hdr(cfg.config_obus, cfg.config_obus_size, NULL, &again, err,
                                     sizeof(err)) != 0)
                __builtin_trap();
            CmeAv1FieldDiff diffs[4];
            if (cme_av1_invariant_compare(&seq, obu.data, obu.size, &again, obu.data, obu.size,
                                          CME_INVARIANT_STRICT, diffs, 4) != 0)
                __builtin_trap(); /* a header always matches itself */
            if (cme_av1_invariant_compare(&seq, NULL, 0, &again, NULL, 0, CME_INVARIANT_CMAF, diffs,
                                          4) != 0)
                __builtin_trap();
        }
    }

    CmeAv1Config cfg;
    (void)cme_av1_read_av1c(data, size, &cfg, err, sizeof(err));
    return 0;
}
