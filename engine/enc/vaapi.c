/*
 * VA-API backend. libva and libva-drm are dlopen()ed at probe time; the probe opens the
 * first DRM render node and asks the driver for an AV1 encode entrypoint
 * (VAProfileAV1Profile0 with VAEntrypointEncSlice or EncSliceLP). Encoding itself is not
 * implemented yet: open() reports that plainly.
 */
#include "cmafeng_config.h"

#if CME_HAVE_VAAPI
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <va/va.h>

#include "cmafeng/common.h"
#include "enc/encoder.h"
#include "enc/lavc.h"

/* Encoding goes through FFmpeg's av1_vaapi (FFmpeg >= 6.0), which takes VA surfaces only:
 * frames are converted to NV12/P010 and uploaded through a VAAPI frames context. */
static const CmeLavcSpec vaapi_spec = {
    .encoder = "av1_vaapi",
    .needs = "FFmpeg >= 6.0",
    .preset_fixed_min = 1,
    .preset_fixed_max = 7,
    .preset_name = "compression_level",
    .quality_qindex = 1,
    .forced_keyframes = 1,
    .hw_type = AV_HWDEVICE_TYPE_VAAPI,
    .hardware = 1,
};

typedef VADisplay (*GetDisplayDrmFn)(int);
typedef VAStatus (*InitializeFn)(VADisplay, int *, int *);
typedef VAStatus (*TerminateFn)(VADisplay);
typedef int (*MaxEntrypointsFn)(VADisplay);
typedef VAStatus (*QueryEntrypointsFn)(VADisplay, VAProfile, VAEntrypoint *, int *);

static int vaapi_probe(char *msg, size_t msglen)
{
    const char *node = getenv("CME_VAAPI_DEVICE");
    if (!node)
        node = "/dev/dri/renderD128";
    int fd = open(node, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(msg, msglen, "no VA-API device: %s not found", node);
        return CME_ENODEV;
    }
    void *va = dlopen("libva.so.2", RTLD_NOW | RTLD_LOCAL);
    void *drm = va ? dlopen("libva-drm.so.2", RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!va || !drm) {
        if (va)
            dlclose(va);
        close(fd);
        snprintf(msg, msglen, "no VA-API device: libva.so.2/libva-drm.so.2 not found");
        return CME_ENODEV;
    }
    GetDisplayDrmFn get_display = (GetDisplayDrmFn)dlsym(drm, "vaGetDisplayDRM");
    InitializeFn initialize = (InitializeFn)dlsym(va, "vaInitialize");
    TerminateFn terminate = (TerminateFn)dlsym(va, "vaTerminate");
    MaxEntrypointsFn max_ep = (MaxEntrypointsFn)dlsym(va, "vaMaxNumEntrypoints");
    QueryEntrypointsFn query_ep = (QueryEntrypointsFn)dlsym(va, "vaQueryConfigEntrypoints");
    int ret = CME_ENODEV;
    VADisplay dpy = get_display && initialize ? get_display(fd) : NULL;
    int major = 0, minor = 0;
    if (!dpy || initialize(dpy, &major, &minor) != VA_STATUS_SUCCESS) {
        snprintf(msg, msglen, "no VA-API device: no driver initialises on %s", node);
        dpy = NULL;
    } else {
        int n = max_ep(dpy), found = 0, count = 0;
        VAEntrypoint *eps = n > 0 ? calloc((size_t)n, sizeof(*eps)) : NULL;
        if (eps && query_ep(dpy, VAProfileAV1Profile0, eps, &count) == VA_STATUS_SUCCESS) {
            for (int i = 0; i < count; i++)
                found |= eps[i] == VAEntrypointEncSlice || eps[i] == VAEntrypointEncSliceLP;
        }
        free(eps);
        if (found) {
            ret = cme__lavc_probe(&vaapi_spec, msg, msglen);
        } else {
            snprintf(msg, msglen, "no VA-API device: the driver on %s has no AV1 encode", node);
        }
        terminate(dpy);
    }
    dlclose(drm);
    dlclose(va);
    close(fd);
    return ret;
}

static int vaapi_caps(CmeEncoderCaps *c, char *msg, size_t msglen)
{
    return cme__lavc_caps(&vaapi_spec, c, msg, msglen);
}

static int vaapi_open(void *priv, const CmeEncoderSettings *s, char *err, size_t errlen)
{
    return cme__lavc_open(priv, &vaapi_spec, s, err, errlen);
}

const CmeEncoderImpl cme__encoder_vaapi = {
    .name = "vaapi",
    .backend = CME_BACKEND_VAAPI,
    .priv_size = sizeof(CmeLavcPriv),
    .caps = vaapi_caps,
    .probe = vaapi_probe,
    .open = vaapi_open,
    .send_frame = cme__lavc_send,
    .receive_packet = cme__lavc_receive,
    .close = cme__lavc_close,
};
#endif
