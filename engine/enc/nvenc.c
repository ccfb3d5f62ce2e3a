/*
 * NVIDIA NVENC backend. Discovery goes through the ffnvcodec dynamic loader: libcuda and
 * libnvidia-encode are dlopen()ed when discovery or probe runs, so the binary runs on
 * machines without the driver. For every CUDA device it opens an encode session and asks
 * for the encode GUIDs (is AV1 among them: Ada Lovelace and later) and the AV1 caps (max
 * size, 10-bit). The installed nv-codec-headers (11.1) predate AV1 (NV_ENC_CODEC_AV1_GUID
 * arrived with NVENC API 12), so the GUID is declared below; drivers answer older API
 * clients. Encoding goes through FFmpeg's av1_nvenc (lavc.c), present from FFmpeg 6.0.
 */
#include "cmafeng_config.h"

#if CME_HAVE_NVENC
#include <stdio.h>

/* The loader prints "Cannot load libcuda.so.1" to stderr by default; the probe reports
 * the reason itself. */
#define FFNV_LOG_FUNC(logctx, msg, ...) ((void)(logctx))
#define FFNV_DEBUG_LOG_FUNC(logctx, msg, ...) ((void)(logctx))
#include <ffnvcodec/dynlink_loader.h>

#include <string.h>

#include "cmafeng/common.h"
#include "enc/discover.h"
#include "enc/encoder.h"
#include "enc/lavc.h"

const GUID cme__nvenc_av1_guid = {
    0x0a352289, 0x0aa7, 0x4759, { 0x86, 0x2d, 0x5d, 0x15, 0xcd, 0x16, 0xd2, 0x54 }
};

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

int cme__nvenc_has_av1(const GUID *guids, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        if (!memcmp(&guids[i], &cme__nvenc_av1_guid, sizeof(GUID)))
            return 1;
    return 0;
}

void cme__nvenc_fill(CmeDeviceInfo *dev, int ordinal, const char *gpu_name, int has_av1,
                     int width_max, int height_max, int ten_bit)
{
    memset(dev, 0, sizeof(*dev));
    snprintf(dev->id, sizeof(dev->id), "nvenc:%d", ordinal);
    snprintf(dev->backend, sizeof(dev->backend), "nvenc");
    snprintf(dev->vendor, sizeof(dev->vendor), "NVIDIA");
    snprintf(dev->name, sizeof(dev->name), "%s", gpu_name ? gpu_name : "");
    snprintf(dev->path, sizeof(dev->path), "%d", ordinal);
    dev->av1_encode = has_av1;
    if (has_av1) {
        dev->max_width = width_max > 0 ? width_max : 0;
        dev->max_height = height_max > 0 ? height_max : 0;
        dev->ten_bit = ten_bit > 0;
        /* GeForce drivers cap concurrent NVENC sessions per system (8 since driver 550);
         * data-centre and RTX professional boards have no cap: 8 is the safe default. */
        dev->sessions = 8;
        snprintf(dev->status, sizeof(dev->status), "AV1 encode, up to %dx%d, %s", dev->max_width,
                 dev->max_height, dev->ten_bit ? "8 and 10 bit" : "8 bit");
    } else {
        snprintf(dev->status, sizeof(dev->status),
                 "no AV1 encode on this GPU (NVENC AV1 needs Ada Lovelace or later)");
    }
}

/* Opens an encode session on CUDA device i and fills dev from its answers. */
static int query_gpu(CudaFunctions *cu, NV_ENCODE_API_FUNCTION_LIST *fl, int i, CmeDeviceInfo *dev,
                     char *why, size_t whylen)
{
    CUdevice cud;
    char name[96] = { 0 };
    CUcontext ctx = NULL;
    if (cu->cuDeviceGet(&cud, i) != CUDA_SUCCESS ||
        cu->cuDeviceGetName(name, (int)sizeof(name) - 1, cud) != CUDA_SUCCESS ||
        cu->cuCtxCreate(&ctx, 0, cud) != CUDA_SUCCESS) {
        snprintf(why, whylen, "CUDA device %d cannot be opened", i);
        return CME_ENODEV;
    }
    NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS op;
    memset(&op, 0, sizeof(op));
    op.version = NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER;
    op.deviceType = NV_ENC_DEVICE_TYPE_CUDA;
    op.device = ctx;
    op.apiVersion = NVENCAPI_VERSION;
    void *enc = NULL;
    int ret = 0;
    if (fl->nvEncOpenEncodeSessionEx(&op, &enc) != NV_ENC_SUCCESS || !enc) {
        snprintf(why, whylen, "%s: no NVENC session (driver too old or sessions exhausted)", name);
        ret = CME_ENODEV;
    } else {
        uint32_t n = 0;
        GUID guids[32];
        int has = 0, wmax = 0, hmax = 0, ten = 0;
        if (fl->nvEncGetEncodeGUIDCount(enc, &n) == NV_ENC_SUCCESS && n > 0) {
            if (n > 32)
                n = 32;
            if (fl->nvEncGetEncodeGUIDs(enc, guids, n, &n) == NV_ENC_SUCCESS)
                has = cme__nvenc_has_av1(guids, n);
        }
        if (has) {
            NV_ENC_CAPS_PARAM cp;
            memset(&cp, 0, sizeof(cp));
            cp.version = NV_ENC_CAPS_PARAM_VER;
            cp.capsToQuery = NV_ENC_CAPS_WIDTH_MAX;
            fl->nvEncGetEncodeCaps(enc, cme__nvenc_av1_guid, &cp, &wmax);
            cp.capsToQuery = NV_ENC_CAPS_HEIGHT_MAX;
            fl->nvEncGetEncodeCaps(enc, cme__nvenc_av1_guid, &cp, &hmax);
            cp.capsToQuery = NV_ENC_CAPS_SUPPORT_10BIT_ENCODE;
            fl->nvEncGetEncodeCaps(enc, cme__nvenc_av1_guid, &cp, &ten);
        }
        fl->nvEncDestroyEncoder(enc);
        cme__nvenc_fill(dev, i, name, has, wmax, hmax, ten);
    }
    cu->cuCtxDestroy(ctx);
    return ret;
}

void cme__nvenc_discover(CmeDiscovery *d)
{
    char msg[256];
    CudaFunctions *cu = NULL;
    NvencFunctions *nv = NULL;
    if (cuda_load_functions(&cu, NULL) < 0) {
        cme__discovery_note(d, "nvenc", 1, 0, "no NVENC device: libcuda not found");
        return;
    }
    int count = 0;
    if (cu->cuInit(0) != CUDA_SUCCESS || cu->cuDeviceGetCount(&count) != CUDA_SUCCESS ||
        count == 0) {
        cme__discovery_note(d, "nvenc", 1, 0, "no NVENC device: CUDA reports no GPU");
        goto out;
    }
    if (nvenc_load_functions(&nv, NULL) < 0) {
        cme__discovery_note(d, "nvenc", 1, 0,
                            "no NVENC device: libnvidia-encode not found (%d GPU(s))", count);
        goto out;
    }
    NV_ENCODE_API_FUNCTION_LIST fl;
    memset(&fl, 0, sizeof(fl));
    fl.version = NV_ENCODE_API_FUNCTION_LIST_VER;
    if (nv->NvEncodeAPICreateInstance(&fl) != NV_ENC_SUCCESS) {
        cme__discovery_note(d, "nvenc", 1, 0, "no NVENC device: NvEncodeAPICreateInstance failed");
        goto out;
    }
    int av1 = 0;
    const int lavc = cme__lavc_probe(&nvenc_spec, msg, sizeof(msg)) == 0;
    for (int i = 0; i < count; i++) {
        CmeDeviceInfo *dev = cme__discovery_add(d);
        if (!dev)
            break;
        char why[160];
        if (query_gpu(cu, &fl, i, dev, why, sizeof(why)) < 0) {
            cme__nvenc_fill(dev, i, why, 0, 0, 0, 0);
            snprintf(dev->status, sizeof(dev->status), "%s", why);
            continue;
        }
        av1 += dev->av1_encode;
        dev->can_run = dev->av1_encode && lavc;
        if (dev->av1_encode && !lavc)
            snprintf(dev->status + strlen(dev->status), sizeof(dev->status) - strlen(dev->status),
                     "; cannot encode here: %s", msg);
    }
    cme__discovery_note(d, "nvenc", 1, av1 > 0 && lavc, "%d GPU(s), %d with AV1 encode; %s", count,
                        av1, msg);
out:
    nvenc_free_functions(&nv);
    cuda_free_functions(&cu);
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
