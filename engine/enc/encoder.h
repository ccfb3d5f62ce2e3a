/*
 * Encoder backends: a table of function pointers per backend in one NULL-terminated
 * registry (dav1d tools/output). Pull API: send_frame() / receive_packet(); CME_EAGAIN
 * from receive_packet means "send more input", CME_EOF means drained after the EOS sent by
 * send_frame(NULL). Backends never see Lua, chunks or files: frames in, packets out.
 * All calls for one encoder come from one thread at a time (the worker holding it).
 */
#ifndef CME_ENC_ENCODER_H
#define CME_ENC_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "sched/lease_pool.h"

typedef struct CmeEncoderSettings {
    int width, height;
    int fps_num, fps_den;
    int bit_depth; /* 8 or 10 */
    int crf, preset;
    int threads; /* 0 = backend default */
    int level;   /* AV1 level x10 (51 = 5.1), 0 = the encoder's choice */
    int keyint;  /* frames between periodic key frames (segment length) */
    /* Colour description from the source (ISO/IEC 23091-4 code points; 2 = unspecified). */
    int color_primaries, transfer_characteristics, matrix_coefficients, full_range;
    /* Backend-specific options from the recipe's device table (`options`); the fault
     * backend reads its fault list here. Empty for most backends. */
    char options[128];
    /* Capped CRF: CRF quality, but at most max_bitrate bits/s over a buffer of buffer_size
     * bits (0 = uncapped / the backend's default buffer). A backend that cannot cap refuses
     * to open with a non-zero max_bitrate. */
    int64_t max_bitrate, buffer_size;
} CmeEncoderSettings;

/* A 4:2:0 picture at the encoder's bit depth: 8-bit samples, or 10-bit samples in 16-bit
 * little-endian words (AV_PIX_FMT_YUV420P10LE). Strides are in bytes; planes are borrowed
 * for the duration of send_frame(). */
typedef struct CmeEncFrame {
    const uint8_t *planes[3];
    int strides[3];
    int64_t pts;
    int force_key;
    uint32_t chunk; /* the chunk (segment index, 0-based) this frame belongs to */
} CmeEncFrame;

typedef struct CmeEncPacket {
    uint8_t *data; /* owned by the encoder; valid until the next receive_packet/close */
    size_t size;
    int64_t pts;
    int key;
} CmeEncPacket;

typedef struct CmeEncoderImpl {
    const char *name;
    CmeBackend backend;
    size_t priv_size;
    /* Can this machine run the backend? 0, or CME_ENODEV with a reason in msg. */
    int (*probe)(char *msg, size_t msglen);
    int (*open)(void *priv, const CmeEncoderSettings *s, char *err, size_t errlen);
    /* frame == NULL sends end of stream. */
    int (*send_frame)(void *priv, const CmeEncFrame *frame);
    /* 0 with *pkt, CME_EAGAIN, CME_EOF, or an error. After EOS this blocks until a packet. */
    int (*receive_packet)(void *priv, CmeEncPacket *pkt);
    /* Must be safe after a failed open; must not hang (drains EOS itself if needed). */
    void (*close)(void *priv);
    /* Optional (NULL: known only from the first packet): the sequence header OBU the open
     * encoder will emit, into out (cap bytes); CME_ENOSPC when it does not fit. */
    int (*sequence_header)(void *priv, uint8_t *out, size_t cap, size_t *size);
} CmeEncoderImpl;

/* The encode half of backends that can probe their hardware but cannot encode yet
 * (NVENC without AV1 in these headers, oneVPL, VA-API): every call refuses. */
int cme__enc_unsupported_send(void *priv, const CmeEncFrame *frame);
int cme__enc_unsupported_receive(void *priv, CmeEncPacket *pkt);
void cme__enc_unsupported_close(void *priv);

/* NULL-terminated registry. */
extern const CmeEncoderImpl *const cme__encoders[];
const CmeEncoderImpl *cme__encoder_find(CmeBackend backend);

typedef struct CmeEncoder {
    const CmeEncoderImpl *impl;
    void *priv;
    int eos_sent;
} CmeEncoder;

int cme__encoder_open(CmeEncoder **out, CmeBackend backend, const CmeEncoderSettings *s, char *err,
                      size_t errlen);
int cme__encoder_send(CmeEncoder *e, const CmeEncFrame *f);
int cme__encoder_receive(CmeEncoder *e, CmeEncPacket *pkt);
void cme__encoder_close(CmeEncoder **pe);
/* The open encoder's sequence header OBU, when its backend can tell before encoding:
 * 0, CME_EUNSUPPORTED when it cannot, or another error. */
int cme__encoder_sequence_header(CmeEncoder *e, uint8_t *out, size_t cap, size_t *size);

#endif
