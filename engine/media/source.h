/*
 * Source demux + decode with libavformat/libavcodec: the first video stream, decoded once.
 * Frames come out with timestamps rescaled to the engine's media timescale and made
 * strictly increasing; durations are filled by the caller (it needs the next frame).
 */
#ifndef CME_MEDIA_SOURCE_H
#define CME_MEDIA_SOURCE_H

#include <libavcodec/packet.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>

#include "cmafeng/engine.h"

typedef struct CmeSource CmeSource;

/* The share of damaged video (packets the decoder rejects, frames it cannot output or
 * conceals) above which reading fails, judged once CME_SOURCE_DAMAGE_MIN_SAMPLE packets
 * and frames were seen, and over the whole stream at its end; below it damage is skipped
 * and counted (cme__source_errors). */
#define CME_SOURCE_MAX_DAMAGE 0.5
#define CME_SOURCE_DAMAGE_MIN_SAMPLE 100

/* Opens path and its video decoder and decodes the first frame (kept for the first read).
 * CME_EIO (unreadable) or CME_EMEDIA (not media, no video stream, no decoder, no decodable
 * frame) with err naming the file. */
int cme__source_open(CmeSource **out, const char *path, char *err, size_t errlen);
void cme__source_info(const CmeSource *s, CmeSourceInfo *info);
/* Colour description of the video stream (ISO/IEC 23091-4 code points; 2 = unspecified). */
void cme__source_color(const CmeSource *s, int *primaries, int *transfer, int *matrix,
                       int *full_range);
/* Next decoded frame into frame (unref'ed first); *pts is in units of `timescale`.
 * 0, CME_EOF at the end, or CME_EMEDIA with err set. */
int cme__source_read(CmeSource *s, AVFrame *frame, uint32_t timescale, int64_t *pts, char *err,
                     size_t errlen);
void cme__source_close(CmeSource **ps);
/* Repositions a freshly opened source so that the next reads return the frames from the
 * key frame at or before `pts` (in units of `timescale`, counted from `origin`, the first
 * frame's timestamp in the stream time base as cme__source_origin gives it for the job's
 * own source): reading on gives frames with the timestamps the first pass gave them. The
 * caller skips frames before pts and checks that the frame at pts comes (a container whose
 * seek lands after it: read from the start instead). 0, or CME_EMEDIA with err set. */
int cme__source_seek(CmeSource *s, int64_t pts, uint32_t timescale, int64_t origin, char *err,
                     size_t errlen);

/* Sets the damaged share that fails the read (default CME_SOURCE_MAX_DAMAGE; >= 1: never). */
void cme__source_set_max_damage(CmeSource *s, double share);
/* Damaged input so far: packets the decoder rejected and frames it flagged. */
uint64_t cme__source_errors(const CmeSource *s);
/* The audio stream whose packets cme__source_read() keeps aside, or NULL. */
const AVStream *cme__source_audio(const CmeSource *s);
/* Chooses the audio streams that become renditions (cme__audio_select's spec) into
 * streams (AVStream indexes, at most max); the first is the one whose packets
 * cme__source_read() keeps for the pump. Returns the count, 0 without audio, or CME_EINVAL
 * with err. */
int cme__source_select_audio(CmeSource *s, const char *spec, int *streams, int max, char *err,
                             size_t errlen);
/* Stops keeping audio packets (the job has no audio rendition). */
void cme__source_drop_audio(CmeSource *s);
/* Takes the oldest kept audio packet: 0, or CME_EAGAIN when none is waiting. */
int cme__source_take_audio(CmeSource *s, AVPacket *pkt);
/* The first video frame's timestamp in the video time base (*tb), the origin of the
 * output timeline; AV_NOPTS_VALUE before the first frame. */
int64_t cme__source_origin(const CmeSource *s, AVRational *tb);

#endif
