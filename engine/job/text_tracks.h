/*
 * The source's text subtitles as WebVTT renditions "subs", "subs_2", ...: one
 * seg_%05d.vtt per video segment (the cues overlapping it, X-TIMESTAMP-MAP, RFC 8216 3.5)
 * for HLS, and one whole subtitles.vtt for DASH (a sidecar WebVTT file, as DASH-IF IOP
 * 6.4.5 allows). Cue times count from the video's first frame.
 */
#ifndef CME_JOB_TEXT_TRACKS_H
#define CME_JOB_TEXT_TRACKS_H

#include <libavutil/rational.h>

#include "cmafeng/mux.h"
#include "media/subtitles.h"

typedef struct CmeTextExtra {
    int n;
    char names[CME_MAX_TEXT][32];
    char languages[CME_MAX_TEXT][4];
    CmeSegmentEntry *segments[CME_MAX_TEXT];
    CmeRendition reps[CME_MAX_TEXT]; /* ready for the manifests but for their bandwidths */
} CmeTextExtra;

/*
 * Reads the text subtitle streams of src_path and writes their renditions under out_dir,
 * segmented like the video (`video`: nb_video segments in units of 1/video_ts; time zero is
 * the source timestamp origin in origin_tb). 0 with x->n renditions (0 when the source has
 * none), or a negative CME_E* with err. *x owns what its renditions point to until
 * cme__text_extra_free.
 */
int cme__text_extra(const char *src_path, const char *out_dir, int64_t origin, AVRational origin_tb,
                    const CmeSegmentEntry *video, size_t nb_video, uint32_t video_ts,
                    CmeTextExtra *x, char *err, size_t errlen);
void cme__text_extra_free(CmeTextExtra *x);

#endif /* CME_JOB_TEXT_TRACKS_H */
