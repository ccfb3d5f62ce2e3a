/*
 * The audio rendition's transcoder: any decodable source audio to AAC-LC (FFmpeg's native
 * encoder), resampled to the rendition's rate and channel count. Pull API like the video
 * encoders: send demuxed packets (NULL = end of stream), receive AAC packets whose pts
 * count samples from the start of the output timeline.
 */
#ifndef CME_MEDIA_AUDIO_H
#define CME_MEDIA_AUDIO_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

typedef struct CmeAudioSettings {
    int bitrate;     /* bits/s */
    int channels;    /* 1 or 2 */
    int sample_rate; /* output rate, also the track timescale */
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
/* The encoder delay in samples (AAC priming) at the start of the output. */
int cme__audio_priming(const CmeAudio *a);
/* The AudioSpecificConfig for esds (valid after open). */
const uint8_t *cme__audio_asc(const CmeAudio *a, size_t *size);
/* pkt == NULL flushes. 0 or CME_EMEDIA with err set. */
int cme__audio_send(CmeAudio *a, const AVPacket *pkt, char *err, size_t errlen);
/* 0 with *pkt (pts/duration in samples), CME_EAGAIN, CME_EOF after the flush drained. */
int cme__audio_receive(CmeAudio *a, AVPacket *pkt);
/* Damaged audio packets and frames skipped so far. */
uint64_t cme__audio_errors(const CmeAudio *a);
void cme__audio_close(CmeAudio **pa);

#endif
