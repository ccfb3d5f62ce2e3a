/*
 * Text subtitles read from the source: every text subtitle stream (SubRip, ASS/SSA,
 * mov_text, WebVTT) is decoded by libavcodec in one demux pass into timed cues, as the
 * decoders give them (ASS event lines). job/text_tracks.c turns them into WebVTT
 * renditions.
 */
#ifndef CME_MEDIA_SUBTITLES_H
#define CME_MEDIA_SUBTITLES_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/rational.h>

#define CME_MAX_TEXT 8

typedef struct CmeSubtitleCue {
    uint64_t start, end; /* milliseconds from time zero (the video's first frame); end > start */
    char *ass;           /* the decoder's event line (or plain text), malloc()ed */
} CmeSubtitleCue;

typedef struct CmeSubtitleTrack {
    char language[4];     /* ISO 639-2 (cme__audio_language); "" when the stream has none */
    CmeSubtitleCue *cues; /* in the stream's order */
    size_t nb, cap;
} CmeSubtitleTrack;

typedef struct CmeSubtitles {
    int n; /* text streams a decoder reads, at most CME_MAX_TEXT, in stream order */
    CmeSubtitleTrack tracks[CME_MAX_TEXT];
} CmeSubtitles;

/*
 * Reads every text subtitle stream of src_path; time zero is the source timestamp origin
 * in origin_tb (AV_NOPTS_VALUE: the stream's zero). Cues that end before time zero are
 * left out, as are damaged ones (as a player would). 0 with *out (n = 0 when the source
 * has none), or a negative CME_E* with err; then *out holds nothing.
 */
int cme__subtitles_read(const char *src_path, int64_t origin, AVRational origin_tb,
                        CmeSubtitles *out, char *err, size_t errlen);
void cme__subtitles_free(CmeSubtitles *s);

#endif /* CME_MEDIA_SUBTITLES_H */
