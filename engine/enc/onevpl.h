/*
 * The oneVPL backend's configuration translation (onevpl.c), declared for its unit test:
 * recipe settings -> mfxVideoParam for an AV1 encoder.
 */
#ifndef CME_ENC_ONEVPL_H
#define CME_ENC_ONEVPL_H

#include "cmafeng_config.h"

#if CME_HAVE_ONEVPL
#include <vpl/mfx.h>

#include "enc/encoder.h"

/* Frames in flight between EncodeFrameAsync and SyncOperation. */
#define CME_VPL_ASYNC_DEPTH 4

/* mfxVideoParam with the extension buffers it points to (keep them together). */
typedef struct CmeVplParams {
    mfxVideoParam par;
    mfxExtVideoSignalInfo vsi;
    mfxExtBuffer *ext[1];
} CmeVplParams;

/*
 * Pure: AV1 Main, TargetUsage = preset (1..7), CQP with QPI = QPP = QPB = qindex(crf)
 * (icq = 0) or ICQ with ICQQuality on 1..51 (icq = 1), closed GOP of keyint frames, every
 * key frame an IDR, NV12 (8-bit) or P010 (10-bit, Shift 1) system-memory input with
 * 16-aligned surfaces cropped to the picture, the level x10 as CodecLevel, the colour
 * description in mfxExtVideoSignalInfo, AsyncDepth CME_VPL_ASYNC_DEPTH.
 * CME_EINVAL with a message for settings out of range. out->par.ExtParam points into out.
 */
int cme__vpl_params(const CmeEncoderSettings *s, int icq, CmeVplParams *out, char *err,
                    size_t errlen);
#endif

#endif
