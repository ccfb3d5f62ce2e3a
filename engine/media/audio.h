/*
 * The audio rendition's transcoder: any decodable source audio to AAC-LC (FFmpeg's native
 * encoder) or Opus (libopus through libavcodec), resampled to the rendition's rate and
 * channel count (up to 5.1: kept, or down/upmixed by libswresample). Pull API like the
 * video encoders: send demuxed packets (NULL = end of stream), receive packets whose pts
 * count samples from the start of the output timeline.
 */
#ifndef CME_MEDIA_AUDIO_H
#define CME_MEDIA_AUDIO_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "cmafeng/engine.h"
#include "cmafeng/mux.h"

typedef struct CmeAudioSettings {
    int bitrate;     /* bits/s */
    int channels;    /* 1..6 (6 = 5.1), or 0: the source's count, 5.1 above six */
    int sample_rate; /* output rate, also the track timescale; Opus always runs at 48000 */
    CmeAudioCodec codec;
} CmeAudioSettings;

typedef struct CmeAudio CmeAudio;

/*
 * Opens the decoder for st and the AAC encoder. origin/origin_tb is the timestamp that is
 * time zero of the output (the first video frame): earlier audio is dropped, a later
 * audio start is padded with silence so that both tracks share one timeline.
 */
int cme__audio_open(CmeAudio **out, const AVStream *st, const CmeAudioSettings *s, char *err,
                    size_t errlen);
void cme__audio_set_origin(CmeAudio *a, int64_t origin, AVRational origin_tb);
/* The encoder delay in samples (AAC priming, Opus pre-skip) at the start of the output. */
int cme__audio_priming(const CmeAudio *a);
/* The decoder configuration (valid after open): the AudioSpecificConfig for esds (AAC),
 * the OpusHead from which dOps is written (Opus). */
const uint8_t *cme__audio_asc(const CmeAudio *a, size_t *size);
/* What the encoder was opened with: channels, sample rate (the track's timescale), and
 * the RFC 6381 codecs string ("mp4a.40.2", "opus"). */
int cme__audio_channels(const CmeAudio *a);
/* The stream's language tag when it is an ISO 639-2 code (three lowercase letters, as mdhd
 * stores it; "und" is no language): 1 with out filled, else 0. */
int cme__audio_language(const AVStream *st, char out[4]);
int cme__audio_sample_rate(const CmeAudio *a);
const char *cme__audio_codecs(const CmeAudio *a);
/* pkt == NULL flushes. 0 or CME_EMEDIA with err set. */
int cme__audio_send(CmeAudio *a, const AVPacket *pkt, char *err, size_t errlen);
/* 0 with *pkt (pts/duration in samples), CME_EAGAIN, CME_EOF after the flush drained. */
int cme__audio_receive(CmeAudio *a, AVPacket *pkt);
/* Damaged audio packets and frames skipped so far. */
uint64_t cme__audio_errors(const CmeAudio *a);
void cme__audio_close(CmeAudio **pa);

/*
 * The audio segmenter (audio_cut.c): cuts the encoded audio at the video's segment starts,
 * so that audio segment N covers video segment N within one audio frame (a segment starts
 * with the first packet at or past the video segment's start) and the last segment takes
 * whatever audio remains after the last video segment starts: no sliver at the end. Pure
 * bookkeeping, no FFmpeg; used by the decode pump's thread only.
 */
typedef struct CmeAudioCutter CmeAudioCutter;

/* One finished audio segment; the pointers stay valid until the next call on the cutter. */
typedef struct CmeAudioSeg {
    uint32_t index; /* 0-based, contiguous */
    uint64_t start; /* samples from time zero */
    const CmeSample *samples;
    size_t nb;
    const uint8_t *data;
    size_t size;
} CmeAudioSeg;

int cme__audio_cutter_new(CmeAudioCutter **out);
void cme__audio_cutter_free(CmeAudioCutter **pc);
/* The next video segment starts at `time` (audio samples from time zero); calls come in
 * increasing order, the first (time 0) may be omitted. CME_ENOMEM or 0. */
int cme__audio_cutter_cut(CmeAudioCutter *c, uint64_t time);
/* One encoded packet starting at `time` samples. CME_ENOMEM or 0. */
int cme__audio_cutter_push(CmeAudioCutter *c, uint64_t time, uint32_t duration, const uint8_t *data,
                           size_t size);
/* The next finished segment: 0 with *seg, CME_EAGAIN while its end is not known yet (the
 * next video segment's start, and a packet at or past it), CME_EOF when final and nothing
 * is left. final: no more packets or cuts will come. */
int cme__audio_cutter_next(CmeAudioCutter *c, int final, CmeAudioSeg *seg);

/*
 * Audio renditions beyond the first (audio_pass.c): demuxes `path` again keeping only audio
 * stream `stream` (an AVStream index), transcodes it with `s`, and writes init.mp4 and
 * seg_%05d.m4s into `dir` (which must exist), cut at the video segment starts `cuts` (in
 * units of 1/cut_ts from time zero, the video's first frame, whose source timestamp is
 * origin in origin_tb). On success res lists the segments (free with cme__audio_pass_free).
 */
typedef struct CmeAudioPassResult {
    CmeSegmentEntry *segments;
    size_t nb_segments, cap;
    char codecs[16];
    int channels, sample_rate;
    int has_language;
    char language[4];
} CmeAudioPassResult;

int cme__audio_pass(const char *path, int stream, const CmeAudioSettings *s, int64_t origin,
                    AVRational origin_tb, const uint64_t *cuts, size_t nb_cuts, uint32_t cut_ts,
                    const char *dir, CmeAudioPassResult *res, char *err, size_t errlen);
void cme__audio_pass_free(CmeAudioPassResult *res);

/*
 * The renditions of the audio streams after the first (which the pump makes), one
 * cme__audio_pass each, in directories "audio_<n>" (n = its place in the selection, from
 * 2), cut at the video segments' starts; x->reps are ready for the manifests but for their
 * bandwidths. *x owns what the renditions point to until cme__audio_extra_free.
 */
typedef struct CmeAudioExtra {
    int n;
    char names[CME_MAX_AUDIO][32];
    CmeAudioPassResult res[CME_MAX_AUDIO];
    CmeRendition reps[CME_MAX_AUDIO];
} CmeAudioExtra;

int cme__audio_extra(const char *src_path, const char *out_dir, const int *streams, int n,
                     const CmeAudioSettings *s, int64_t origin, AVRational origin_tb,
                     const CmeSegmentEntry *video, size_t nb_video, uint32_t video_ts,
                     CmeAudioExtra *x, char *err, size_t errlen);
void cme__audio_extra_free(CmeAudioExtra *x);

/*
 * Which audio streams of fmt become renditions, as AVStream indexes into out (at most max),
 * in rendition order: spec NULL or "" is the best stream (`best`, an AVStream index, or the
 * first audio stream when best < 0); "all" is every audio stream; else a comma list of
 * 1-based audio stream numbers and ISO 639-2 languages ("2", "eng,fra"). Returns how many
 * (0: the source has no audio), or CME_EINVAL with err naming an entry that matches nothing.
 */
int cme__audio_select(const AVFormatContext *fmt, int best, const char *spec, int *out, int max,
                      char *err, size_t errlen);

#endif
