/*
 * The libavcodec backend (lavc.c): any AV1 encoder of the linked FFmpeg, by name, behind
 * the encoder vtable. Software encoders (libaom-av1, librav1e) take the worker's frames
 * as they are; hardware encoders (av1_nvenc, av1_qsv, av1_vaapi, av1_amf: FFmpeg >= 6.0)
 * get them converted to NV12/P010 and, where the encoder only takes GPU surfaces
 * (av1_vaapi), uploaded through a hardware device and frames context.
 *
 * The private state is declared here so that the hardware backends' files (nvenc.c,
 * vaapi.c) can keep their own device discovery and still encode through this code.
 */
#ifndef CME_ENC_LAVC_H
#define CME_ENC_LAVC_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavutil/hwcontext.h>

#include "enc/encoder.h"

struct SwsContext;

/* How one FFmpeg encoder is driven: which options carry speed and quality. */
typedef struct CmeLavcSpec {
    const char *encoder;    /* FFmpeg encoder name: "libaom-av1" */
    const char *needs;      /* where the build lacks it: "FFmpeg >= 6.0" */
    const char *preset_opt; /* the encoder's speed AVOption, NULL: see preset_fixed */
    int preset_fixed_min;   /* range when the range is not an AVOption's (hardware) */
    int preset_fixed_max;
    const char *preset_name; /* for messages: "cpu-used", "speed", "preset p1..p7" */
    int quality_qindex;      /* 1: crf is mapped to an AV1 qindex 0..255 (rav1e, GPUs) */
    int forced_keyframes;    /* honours AVFrame.pict_type = I as a key frame */
    int hw_type;             /* enum AVHWDeviceType for uploads; 0 = none */
    int hardware;
} CmeLavcSpec;

/* A packet of a restarted encoder context, returned before the new context's. */
typedef struct CmeLavcPending {
    AVPacket **pkts;
    size_t head, count, cap;
} CmeLavcPending;

typedef struct CmeLavcPriv {
    const CmeLavcSpec *spec;
    CmeEncoderSettings set;
    const AVCodec *codec;
    AVCodecContext *ctx;
    AVBufferRef *hw_device;
    AVBufferRef *hw_frames;
    enum AVPixelFormat in_fmt;  /* what the worker sends: yuv420p or yuv420p10le */
    enum AVPixelFormat enc_fmt; /* what the encoder gets in system memory */
    int upload;                 /* enc_fmt frames are uploaded to hw_frames surfaces */
    struct SwsContext *sws;
    AVFrame *conv;     /* enc_fmt frame when a conversion is needed */
    AVFrame *hw;       /* the uploaded surface */
    AVPacket *out;     /* the packet last handed out */
    int keyint;        /* the chunk length in frames */
    int64_t since_key; /* frames sent since this context's last key frame */
    int eos_sent;
    int eof;
    CmeLavcPending pending;
} CmeLavcPriv;

/* AV1 qindex (0..255) for a quantizer on the 0..63 scale of the recipe's crf, as the AV1
 * reference encoder maps its --min-q/--max-q values (4 per step, 255 at the top). */
int cme__lavc_crf_to_qindex(int crf);
/* The AV1 seq_level_idx (13) of a level x10 (51), or -1. */
int cme__lavc_level_idx(int level_x10);

/* Fills caps for spec from the linked FFmpeg; CME_ENODEV with "av1_nvenc: not in this
 * FFmpeg build (needs FFmpeg >= 6.0)" when avcodec_find_encoder_by_name fails. */
int cme__lavc_caps(const CmeLavcSpec *spec, CmeEncoderCaps *c, char *msg, size_t msglen);
/* The encoder is in the linked FFmpeg: 0 with "libaom-av1 (FFmpeg 59.37.100)", or as above. */
int cme__lavc_probe(const CmeLavcSpec *spec, char *msg, size_t msglen);
int cme__lavc_open(CmeLavcPriv *p, const CmeLavcSpec *spec, const CmeEncoderSettings *s, char *err,
                   size_t errlen);
int cme__lavc_send(void *priv, const CmeEncFrame *f);
int cme__lavc_receive(void *priv, CmeEncPacket *pkt);
void cme__lavc_close(void *priv);

#endif
