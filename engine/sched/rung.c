/*
 * A rung's codec invariant and its table of segments kept from an earlier run
 * (job_state.h), behind functions that take rung->lock: the workers, the journal and the
 * pump's sink never touch those fields directly.
 */
#include <stdlib.h>
#include <string.h>

#include "sched/job_state.h"

/* Makes (seq, obu) the rung's invariant. Called with rung->lock held. */
static int set_invariant(CmeRung *rung, const CmeAv1SeqHdr *seq, const uint8_t *obu, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return CME_ENOMEM;
    memcpy(copy, obu, size);
    free(rung->seq_obu);
    rung->seq_obu = copy;
    rung->seq_obu_size = size;
    rung->seq = *seq;
    cme_av1_codec_string(seq, rung->codecs, sizeof(rung->codecs));
    rung->inv_set = 1;
    return 0;
}

int cme__rung_check_invariant(CmeRung *rung, CmeInvariantMode mode, const CmeAv1SeqHdr *seq,
                              const uint8_t *obu, size_t size, CmeAv1FieldDiff *diffs,
                              int max_diffs, int *nb_diffs, CmeRungInitWriter write_init,
                              void *opaque)
{
    *nb_diffs = 0;
    pthread_mutex_lock(&rung->lock);
    if (rung->inv_set || rung->exp_set) {
        const int set = rung->inv_set;
        int n = cme_av1_invariant_compare(
            set ? &rung->seq : &rung->exp_seq, set ? rung->seq_obu : rung->exp_obu,
            set ? rung->seq_obu_size : rung->exp_obu_size, seq, obu, size, mode, diffs, max_diffs);
        if (n != 0) {
            *nb_diffs = n;
            pthread_mutex_unlock(&rung->lock);
            return CME_INVARIANT_MISMATCH;
        }
        if (set) {
            pthread_mutex_unlock(&rung->lock);
            return CME_INVARIANT_MATCH;
        }
    }
    /* The first valid header: the rung's invariant from now on, once its init segment is
     * written (under the lock, so no segment of the rung can be committed before it). */
    int r = set_invariant(rung, seq, obu, size);
    if (r == 0 && (r = write_init(opaque, rung)) < 0) {
        free(rung->seq_obu);
        rung->seq_obu = NULL;
        rung->seq_obu_size = 0;
        rung->inv_set = 0;
    }
    pthread_mutex_unlock(&rung->lock);
    return r < 0 ? r : CME_INVARIANT_SET;
}

int cme__rung_restore_invariant(CmeRung *rung, const CmeAv1SeqHdr *seq, const uint8_t *obu,
                                size_t size)
{
    pthread_mutex_lock(&rung->lock);
    int r = set_invariant(rung, seq, obu, size);
    pthread_mutex_unlock(&rung->lock);
    return r;
}

int cme__rung_expect(CmeRung *rung, const CmeAv1SeqHdr *seq, const uint8_t *obu, size_t size)
{
    if (size > sizeof(rung->exp_obu))
        return CME_EINVAL;
    pthread_mutex_lock(&rung->lock);
    rung->exp_seq = *seq;
    memcpy(rung->exp_obu, obu, size);
    rung->exp_obu_size = size;
    rung->exp_set = 1;
    pthread_mutex_unlock(&rung->lock);
    return 0;
}

int cme__rung_keep_segment(CmeRung *rung, uint32_t index, const CmeSegmentEntry *seg)
{
    int r = 1;
    pthread_mutex_lock(&rung->lock);
    if (index >= rung->segs_cap) {
        size_t cap = rung->segs_cap ? rung->segs_cap : 64;
        while (cap <= index)
            cap *= 2;
        CmeSegmentEntry *s = realloc(rung->segs, cap * sizeof(*s));
        uint8_t *d = s ? realloc(rung->seg_done, cap) : NULL;
        if (s)
            rung->segs = s;
        if (!d) {
            pthread_mutex_unlock(&rung->lock);
            return CME_ENOMEM;
        }
        memset(d + rung->segs_cap, 0, cap - rung->segs_cap);
        rung->seg_done = d;
        rung->segs_cap = cap;
    }
    if (rung->seg_done[index]) {
        r = 0;
    } else {
        rung->segs[index] = *seg;
        rung->seg_done[index] = 1;
    }
    pthread_mutex_unlock(&rung->lock);
    return r;
}

int cme__rung_kept_segment(CmeRung *rung, uint32_t index, CmeSegmentEntry *out)
{
    pthread_mutex_lock(&rung->lock);
    int kept = index < rung->segs_cap && rung->seg_done[index];
    if (kept)
        *out = rung->segs[index];
    pthread_mutex_unlock(&rung->lock);
    return kept;
}
