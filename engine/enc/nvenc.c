/*
 * NVIDIA NVENC backend through the ffnvcodec dynamic loader: libcuda and
 * libnvidia-encode are dlopen()ed at probe time, so the binary runs on machines without
 * the driver. The installed nv-codec-headers (11.1) predate AV1 encoding
 * (NV_ENC_CODEC_AV1_GUID arrived with NVENC API 12), so even with a GPU present this
 * build reports the device and refuses to open an AV1 session with a clear reason.
 */
#include "cmafeng_config.h"

#if CME_HAVE_NVENC
#include <stdio.h>

/* The loader prints "Cannot load libcuda.so.1" to stderr by default; the probe reports
 * the reason itself. */
#define FFNV_LOG_FUNC(logctx, msg, ...) ((void)(logctx))
#define FFNV_DEBUG_LOG_FUNC(logctx, msg, ...) ((void)(logctx))
#include <ffnvcodec/dynlink_loader.h>

#include "cmafeng/common.h"
#include "enc/encoder.h"
#include "enc/lavc.h"

/* Encoding goes through FFmpeg's av1_nvenc (FFmpeg >= 6.0 built with nv-codec-headers
 * 12), which takes system-memory YUV420P/P010 frames and manages its own CUDA context. */
static const CmeLavcSpec nvenc_spec = {
    .encoder = "av1_nvenc",
    .needs = "FFmpeg >= 6.0",
    .preset_fixed_min = 1,
    .preset_fixed_max = 7,
    .preset_name = "preset p1..p7",
    .quality_qindex = 1,
    .forced_keyframes = 1,
    .hardware = 1,
};

static int nvenc_probe(char *msg, size_t msglen)
{
    CudaFunctions *cu = NULL;
    if (cuda_load_functions(&cu, NULL) < 0) {
        snprintf(msg, msglen, "no NVENC device: libcuda not found");
        return CME_ENODEV;
    }
    int count = 0;
    if (cu->cuInit(0) != CUDA_SUCCESS || cu->cuDeviceGetCount(&count) != CUDA_SUCCESS ||
        count == 0) {
        cuda_free_functions(&cu);
        snprintf(msg, msglen, "no NVENC device: CUDA reports no GPU");
        return CME_ENODEV;
    }
    cuda_free_functions(&cu);
    NvencFunctions *nv = NULL;
    if (nvenc_load_functions(&nv, NULL) < 0) {
        snprintf(msg, msglen, "no NVENC device: libnvidia-encode not found (%d GPU(s))", count);
        return CME_ENODEV;
    }
    nvenc_free_functions(&nv);
    return cme__lavc_probe(&nvenc_spec, msg, msglen);
}

static int nvenc_caps(CmeEncoderCaps *c, char *msg, size_t msglen)
{
    int r = cme__lavc_caps(&nvenc_spec, c, msg, msglen);
    if (r == 0)
        c->sessions_max = 8; /* GeForce drivers allow 8 concurrent NVENC sessions */
    return r;
}

static int nvenc_open(void *priv, const CmeEncoderSettings *s, char *err, size_t errlen)
{
    return cme__lavc_open(priv, &nvenc_spec, s, err, errlen);
}

const CmeEncoderImpl cme__encoder_nvenc = {
    .name = "nvenc",
    .backend = CME_BACKEND_NVENC,
    .priv_size = sizeof(CmeLavcPriv),
    .caps = nvenc_caps,
    .probe = nvenc_probe,
    .open = nvenc_open,
    .send_frame = cme__lavc_send,
    .receive_packet = cme__lavc_receive,
    .close = cme__lavc_close,
};
#endif
