/*
 * VA-API backend. libva and libva-drm are dlopen()ed when discovery runs; discovery opens
 * every DRM render node (/dev/dri/renderD*), asks the driver for its vendor string, for
 * an AV1 encode entrypoint (VAProfileAV1Profile0 with VAEntrypointEncSliceLP or
 * EncSlice) and for that entrypoint's RT formats (10-bit) and maximum picture size.
 * Encoding goes through FFmpeg's av1_vaapi (lavc.c), present from FFmpeg 6.0.
 */
#include "cmafeng_config.h"

#if CME_HAVE_VAAPI
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <va/va.h>

#include "cmafeng/common.h"
#include "enc/discover.h"
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

VAEntrypoint cme__vaapi_av1_entrypoint(const VAEntrypoint *eps, int count)
{
    VAEntrypoint best = (VAEntrypoint)0;
    for (int i = 0; i < count; i++) {
        if (eps[i] == VAEntrypointEncSliceLP)
            return VAEntrypointEncSliceLP;
        if (eps[i] == VAEntrypointEncSlice)
            best = VAEntrypointEncSlice;
    }
    return best;
}

void cme__vaapi_fill(CmeDeviceInfo *dev, const char *node, const char *vendor_string,
                     VAEntrypoint ep, const VAConfigAttrib *attrs, int nb_attrs)
{
    memset(dev, 0, sizeof(*dev));
    const char *base = strrchr(node, '/');
    snprintf(dev->id, sizeof(dev->id), "vaapi:%s", base ? base + 1 : node);
    snprintf(dev->backend, sizeof(dev->backend), "vaapi");
    snprintf(dev->vendor, sizeof(dev->vendor), "%s", cme__vaapi_vendor_from_string(vendor_string));
    snprintf(dev->name, sizeof(dev->name), "%s", vendor_string ? vendor_string : "");
    snprintf(dev->path, sizeof(dev->path), "%s", node);
    if (!ep) {
        snprintf(dev->status, sizeof(dev->status), "the driver has no AV1 encode entrypoint");
        return;
    }
    dev->av1_encode = 1;
    dev->sessions = 0; /* no driver-side cap: the engine's sessions setting decides */
    /* AV1 Main allows 65536; without an answer assume the common fixed-function limit. */
    dev->max_width = 8192;
    dev->max_height = 8192;
    for (int i = 0; i < nb_attrs; i++) {
        if (attrs[i].value == VA_ATTRIB_NOT_SUPPORTED)
            continue;
        switch (attrs[i].type) {
        case VAConfigAttribRTFormat:
            dev->ten_bit = (attrs[i].value & VA_RT_FORMAT_YUV420_10) != 0;
            break;
        case VAConfigAttribMaxPictureWidth: dev->max_width = (int)attrs[i].value; break;
        case VAConfigAttribMaxPictureHeight: dev->max_height = (int)attrs[i].value; break;
        default: break;
        }
    }
    snprintf(dev->status, sizeof(dev->status), "AV1 encode (%s), up to %dx%d, %s",
             ep == VAEntrypointEncSliceLP ? "EncSliceLP" : "EncSlice", dev->max_width,
             dev->max_height, dev->ten_bit ? "8 and 10 bit" : "8 bit");
}

typedef struct VaLib {
    void *va, *drm;
    VADisplay (*get_display)(int);
    VAStatus (*initialize)(VADisplay, int *, int *);
    VAStatus (*terminate)(VADisplay);
    int (*max_entrypoints)(VADisplay);
    VAStatus (*query_entrypoints)(VADisplay, VAProfile, VAEntrypoint *, int *);
    VAStatus (*get_attributes)(VADisplay, VAProfile, VAEntrypoint, VAConfigAttrib *, int);
    const char *(*vendor)(VADisplay);
    VAMessageCallback (*set_info)(VADisplay, VAMessageCallback, void *);
    VAMessageCallback (*set_error)(VADisplay, VAMessageCallback, void *);
} VaLib;

static void va_unload(VaLib *l)
{
    if (l->drm)
        dlclose(l->drm);
    if (l->va)
        dlclose(l->va);
    memset(l, 0, sizeof(*l));
}

static int va_load(VaLib *l)
{
    memset(l, 0, sizeof(*l));
    l->va = dlopen("libva.so.2", RTLD_NOW | RTLD_LOCAL);
    l->drm = l->va ? dlopen("libva-drm.so.2", RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!l->va || !l->drm) {
        va_unload(l);
        return -1;
    }
    *(void **)&l->get_display = dlsym(l->drm, "vaGetDisplayDRM");
    *(void **)&l->initialize = dlsym(l->va, "vaInitialize");
    *(void **)&l->terminate = dlsym(l->va, "vaTerminate");
    *(void **)&l->max_entrypoints = dlsym(l->va, "vaMaxNumEntrypoints");
    *(void **)&l->query_entrypoints = dlsym(l->va, "vaQueryConfigEntrypoints");
    *(void **)&l->get_attributes = dlsym(l->va, "vaGetConfigAttributes");
    *(void **)&l->vendor = dlsym(l->va, "vaQueryVendorString");
    *(void **)&l->set_info = dlsym(l->va, "vaSetInfoCallback");
    *(void **)&l->set_error = dlsym(l->va, "vaSetErrorCallback");
    if (!l->get_display || !l->initialize || !l->terminate || !l->max_entrypoints ||
        !l->query_entrypoints || !l->get_attributes || !l->vendor) {
        va_unload(l);
        return -1;
    }
    return 0;
}

static void quiet(void *user, const char *message)
{
    (void)user;
    (void)message;
}

/* Asks one render node; 1 when it was a VA-API device (listed), 0 otherwise. */
static int query_node(VaLib *l, const char *node, CmeDeviceInfo *dev)
{
    int fd = open(node, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 0;
    VADisplay dpy = l->get_display(fd);
    int major = 0, minor = 0, listed = 0;
    if (dpy) {
        /* libva prints "libva info: ..." lines to stderr by default. */
        if (l->set_info)
            l->set_info(dpy, quiet, NULL);
        if (l->set_error)
            l->set_error(dpy, quiet, NULL);
    }
    if (dpy && l->initialize(dpy, &major, &minor) == VA_STATUS_SUCCESS) {
        int n = l->max_entrypoints(dpy), count = 0;
        VAEntrypoint *eps = n > 0 ? calloc((size_t)n, sizeof(*eps)) : NULL;
        VAEntrypoint ep = (VAEntrypoint)0;
        if (eps &&
            l->query_entrypoints(dpy, VAProfileAV1Profile0, eps, &count) == VA_STATUS_SUCCESS)
            ep = cme__vaapi_av1_entrypoint(eps, count);
        free(eps);
        VAConfigAttrib attrs[3] = { { .type = VAConfigAttribRTFormat },
                                    { .type = VAConfigAttribMaxPictureWidth },
                                    { .type = VAConfigAttribMaxPictureHeight } };
        if (ep && l->get_attributes(dpy, VAProfileAV1Profile0, ep, attrs, 3) != VA_STATUS_SUCCESS)
            for (int i = 0; i < 3; i++)
                attrs[i].value = VA_ATTRIB_NOT_SUPPORTED;
        cme__vaapi_fill(dev, node, l->vendor(dpy), ep, attrs, 3);
        l->terminate(dpy);
        listed = 1;
    }
    close(fd);
    return listed;
}

static int node_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cme__vaapi_discover(CmeDiscovery *d)
{
    const char *only = getenv("CME_VAAPI_DEVICE");
    DIR *dir = only ? NULL : opendir("/dev/dri");
    char *nodes[16];
    int nb = 0;
    if (only) {
        nodes[nb++] = strdup(only);
    } else if (dir) {
        struct dirent *e;
        while ((e = readdir(dir)) != NULL && nb < 16)
            if (!strncmp(e->d_name, "renderD", 7)) {
                char path[300];
                snprintf(path, sizeof(path), "/dev/dri/%s", e->d_name);
                nodes[nb++] = strdup(path);
            }
        closedir(dir);
    }
    if (nb == 0) {
        cme__discovery_note(d, "vaapi", 1, 0, "no VA-API device: no /dev/dri/renderD* node");
        return;
    }
    qsort(nodes, (size_t)nb, sizeof(nodes[0]), node_cmp);
    VaLib l;
    if (va_load(&l) < 0) {
        cme__discovery_note(d, "vaapi", 1, 0,
                            "no VA-API device: libva.so.2/libva-drm.so.2 not found (%d node(s))",
                            nb);
    } else {
        char msg[256];
        const int lavc = cme__lavc_probe(&vaapi_spec, msg, sizeof(msg)) == 0;
        int listed = 0, av1 = 0;
        for (int i = 0; i < nb; i++) {
            CmeDeviceInfo tmp;
            if (!nodes[i] || !query_node(&l, nodes[i], &tmp))
                continue;
            CmeDeviceInfo *dev = cme__discovery_add(d);
            if (!dev)
                break;
            *dev = tmp;
            listed++;
            av1 += dev->av1_encode;
            dev->can_run = dev->av1_encode && lavc;
            if (dev->av1_encode && !lavc)
                snprintf(dev->status + strlen(dev->status),
                         sizeof(dev->status) - strlen(dev->status), "; cannot encode here: %s",
                         msg);
        }
        cme__discovery_note(d, "vaapi", 1, av1 > 0 && lavc,
                            "%d render node(s), %d with a VA-API driver, %d with AV1 encode; %s",
                            nb, listed, av1, msg);
        va_unload(&l);
    }
    for (int i = 0; i < nb; i++)
        free(nodes[i]);
}

static int vaapi_probe(char *msg, size_t msglen)
{
    CmeDiscovery *d = calloc(1, sizeof(*d));
    if (!d)
        return CME_ENOMEM;
    cme__vaapi_discover(d);
    int r = CME_ENODEV;
    for (int i = 0; i < d->nb_devices; i++)
        if (d->devices[i].can_run) {
            snprintf(msg, msglen, "%s: %s", d->devices[i].path, d->devices[i].status);
            r = 0;
            break;
        }
    if (r < 0)
        snprintf(msg, msglen, "%s", d->nb_notes ? d->notes[0].status : "no VA-API device");
    free(d);
    return r;
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
