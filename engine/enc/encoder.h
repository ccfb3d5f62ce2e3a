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

#include "cmafeng/av1.h"
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
    /* Hardware backends: the device to open ("/dev/dri/renderD129", a CUDA ordinal);
     * "" = the backend's default device. */
    char hw_device[64];
    /* HDR10 static metadata for the bitstream's metadata OBUs (AV1 6.7.3, 6.7.4); backends
     * that cannot write them ignore it (the init segment's mdcv/clli still carry it). */
    CmeHdrMetadata hdr;
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

/* Rate-control modes a backend offers (CmeEncoderCaps.rc_modes). The recipe's `crf` is a
 * constant-quality target on the 1..63 AV1 quantizer scale; a backend with only a constant
 * quantizer maps it onto its own scale (see rc_note). */
enum {
    CME_RC_CRF = 1 << 0, /* constant quality (CRF / ICQ) */
    CME_RC_CQP = 1 << 1, /* constant quantizer */
    CME_RC_VBR = 1 << 2, /* target bitrate */
};

/*
 * What a backend can do, read before anything starts so that a recipe the backend cannot
 * honour fails with a message that names the limit (cme__encoder_check). Ranges are
 * inclusive; names are the encoder's own words for the knob, for the messages.
 */
typedef struct CmeEncoderCaps {
    const char *encoder; /* "SVT-AV1", "libaom-av1", "librav1e", "av1_nvenc", ... */
    unsigned bit_depths; /* bit n set: n-bit input accepted (1u << 8 | 1u << 10) */
    int min_width, min_height;
    int max_width, max_height;
    int preset_min, preset_max;
    const char *preset_name; /* "enc_mode", "cpu-used", "speed", "preset" */
    int crf_min, crf_max;    /* accepted recipe crf values */
    unsigned rc_modes;       /* CME_RC_* */
    const char *rc_note;     /* how the recipe's crf reaches the encoder */
    int level_settable;      /* a device's `level` is signalled as asked */
    /* 0: opening an instance while another instance of this backend encodes is unsafe
     * (SVT-AV1 1.4.1 resets process-wide CPU-dispatch tables in every init), so every
     * instance is opened before the first frame. */
    int midjob_open_safe;
    int sessions_max; /* concurrent sessions per device; 0 = no limit but cores */
    /* 1: a key frame can be forced on any frame; 0: the backend restarts its encoder at a
     * forced key frame that does not fall on its fixed key-frame interval. */
    int forced_keyframes;
    int hardware; /* encodes on a GPU: frames are uploaded */
} CmeEncoderCaps;

typedef struct CmeEncoderImpl {
    const char *name; /* the recipe's device backend name: "svt", "aom", "rav1e", ... */
    CmeBackend backend;
    size_t priv_size;
    /* Fills *caps. For backends whose limits depend on the linked library (the AVOption
     * ranges of an FFmpeg encoder) this may look them up; CME_ENODEV with a reason in
     * msg when the library lacks the encoder. */
    int (*caps)(CmeEncoderCaps *caps, char *msg, size_t msglen);
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

/* NULL-terminated registry. */
extern const CmeEncoderImpl *const cme__encoders[];
const CmeEncoderImpl *cme__encoder_find(CmeBackend backend);

typedef struct CmeEncoder {
    const CmeEncoderImpl *impl;
    void *priv;
    int eos_sent;
} CmeEncoder;

/* The implementation whose recipe name is `name` ("svt", "aom", ...), or NULL. */
const CmeEncoderImpl *cme__encoder_find_name(const char *name);
/* The recipe names of every backend, built into this binary or not; NULL-terminated. */
extern const char *const cme__encoder_known[];
/* The same names for messages:
 * "svt, aom, rav1e, nvenc, qsv, vaapi or amf". */
const char *cme__encoder_names(void);
/* The implementation for a recipe's device backend name: 0, CME_EINVAL for a name that
 * is no backend ("expected svt, aom, ... got \"x\""), CME_ENODEV for a backend whose SDK
 * was missing when this binary was built. */
int cme__encoder_lookup(const char *name, const CmeEncoderImpl **out, char *err, size_t errlen);

/*
 * Checks encoder settings against a backend's capabilities before anything starts.
 * Returns 0, or CME_EINVAL / CME_EUNSUPPORTED / CME_ENODEV with a message that names the
 * value, the backend and the accepted range, e.g.
 * "preset 13 is out of range for libaom-av1 (cpu-used 0..8)".
 */
int cme__encoder_check(CmeBackend backend, const CmeEncoderSettings *s, char *err, size_t errlen);

struct CmeRungSettings;
/*
 * The same check for a recipe rung served by a pool device: what the engine calls for
 * every (rung, device) pair before it opens anything. bit_depth 0 means 8.
 */
int cme__encoder_check_rung(const struct CmeRungSettings *rung, const CmeDevice *dev, char *err,
                            size_t errlen);

int cme__encoder_open(CmeEncoder **out, CmeBackend backend, const CmeEncoderSettings *s, char *err,
                      size_t errlen);
int cme__encoder_send(CmeEncoder *e, const CmeEncFrame *f);
int cme__encoder_receive(CmeEncoder *e, CmeEncPacket *pkt);
void cme__encoder_close(CmeEncoder **pe);
/* The open encoder's sequence header OBU, when its backend can tell before encoding:
 * 0, CME_EUNSUPPORTED when it cannot, or another error. */
int cme__encoder_sequence_header(CmeEncoder *e, uint8_t *out, size_t cap, size_t *size);

#endif
