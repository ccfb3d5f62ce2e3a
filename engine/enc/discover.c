/* Device discovery across backends (discover.h): software devices, then each SDK. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmafeng/common.h"
#include "enc/discover.h"
#include "enc/discover_pool.h"
#include "enc/encoder.h"
#include "enc/lavc.h"
#include "sched/lease_pool.h"

CmeDeviceInfo *cme__discovery_add(CmeDiscovery *d)
{
    if (d->nb_devices >= CME_MAX_DISCOVERED)
        return NULL;
    CmeDeviceInfo *dev = &d->devices[d->nb_devices++];
    memset(dev, 0, sizeof(*dev));
    return dev;
}

void cme__discovery_note(CmeDiscovery *d, const char *backend, int built, int available,
                         const char *fmt, ...)
{
    if (d->nb_notes >= (int)(sizeof(d->notes) / sizeof(d->notes[0])))
        return;
    CmeBackendNote *n = &d->notes[d->nb_notes++];
    snprintf(n->backend, sizeof(n->backend), "%s", backend);
    n->built = built;
    n->available = available;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->status, sizeof(n->status), fmt, ap);
    va_end(ap);
}

int cme__backend_is_hardware(int backend)
{
    return backend == CME_BACKEND_NVENC || backend == CME_BACKEND_QSV ||
           backend == CME_BACKEND_VAAPI || backend == CME_BACKEND_AMF;
}

int cme__discovery_to_device(const CmeDeviceInfo *dev, int software_sessions, int max_hw_sessions,
                             CmeDevice *out)
{
    const CmeEncoderImpl *impl = cme__encoder_find_name(dev->backend);
    if (!dev->can_run || !dev->av1_encode || !impl)
        return CME_ENODEV;
    int hw = cme__backend_is_hardware(impl->backend);
    int sessions = software_sessions;
    if (hw)
        sessions =
            dev->sessions > 0 && dev->sessions < max_hw_sessions ? dev->sessions : max_hw_sessions;
    if (sessions < 1)
        return CME_ENODEV;
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", dev->id);
    snprintf(out->path, sizeof(out->path), "%s", dev->path);
    out->backend = impl->backend;
    out->sessions = sessions;
    out->max_width = dev->max_width;
    out->max_height = dev->max_height;
    out->ten_bit = dev->ten_bit;
    /* SVT-AV1 1.4.1 opens every encoder before the first frame; libavcodec's encoders and
     * oneVPL sessions may open mid-job. */
    out->midjob_open = impl->backend != CME_BACKEND_SVT;
    return 0;
}

static const CmeBackendNote *note_of(const CmeDiscovery *d, const char *backend)
{
    for (int i = 0; i < d->nb_notes; i++)
        if (!strcmp(d->notes[i].backend, backend))
            return &d->notes[i];
    return NULL;
}

/* Appends "no <backend> device: <why>" to buf: the backend's note, and the devices it found
 * that cannot run here. */
static void why_none(const CmeDiscovery *d, const char *backend, char *buf, size_t n)
{
    size_t len = strlen(buf);
    const CmeBackendNote *note = note_of(d, backend);
    len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%sno %s device: %s", len ? "; " : "",
                            backend, note && note->status[0] ? note->status : "not discovered");
    for (int i = 0; i < d->nb_devices && len < n; i++) {
        const CmeDeviceInfo *v = &d->devices[i];
        if (!strcmp(v->backend, backend))
            len += (size_t)snprintf(buf + len, n - len, " (%s%s%s: %s)", v->id,
                                    v->name[0] ? " " : "", v->name, v->status);
    }
}

int cme__discovery_select(const CmeDiscovery *d, const char *backend, int max_hw_sessions,
                          CmeDevice *out, int max, char *why, size_t whylen)
{
    static const char *const hardware[] = { "nvenc", "qsv", "vaapi", "amf" };
    int n = 0;
    if (why && whylen)
        why[0] = '\0';
    for (int i = 0; i < d->nb_devices && n < max; i++) {
        const CmeDeviceInfo *v = &d->devices[i];
        const CmeEncoderImpl *impl = cme__encoder_find_name(v->backend);
        if (!impl ||
            (backend ? strcmp(v->backend, backend) : !cme__backend_is_hardware(impl->backend)))
            continue;
        if (cme__discovery_to_device(v, 1, max_hw_sessions, &out[n]) == 0)
            n++;
    }
    if (n == 0 && why && whylen) {
        if (backend) {
            why_none(d, backend, why, whylen);
        } else {
            for (size_t k = 0; k < sizeof(hardware) / sizeof(hardware[0]); k++)
                why_none(d, hardware[k], why, whylen);
        }
    }
    return n;
}

int cme__discover_devices(const char *backend, int max_hw_sessions, CmeDevice *out, int max,
                          char *why, size_t whylen)
{
    CmeDiscovery *d = malloc(sizeof(*d));
    if (!d) {
        if (why && whylen)
            snprintf(why, whylen, "out of memory");
        return CME_ENOMEM;
    }
    cme__devices_discover(d);
    int n = cme__discovery_select(d, backend, max_hw_sessions, out, max, why, whylen);
    free(d);
    return n;
}

int cme__discovery_fill_pool(const CmeDiscovery *d, CmeLeasePool *pool, int software_sessions,
                             int max_hw_sessions)
{
    int added = 0;
    for (int i = 0; i < d->nb_devices; i++) {
        CmeDevice dev;
        if (cme__discovery_to_device(&d->devices[i], software_sessions, max_hw_sessions, &dev) < 0)
            continue;
        int r = cme__lease_pool_register(pool, &dev);
        if (r < 0)
            return r;
        added++;
    }
    return added;
}

const char *cme__pci_vendor(unsigned id)
{
    switch (id) {
    case 0x10de: return "NVIDIA";
    case 0x8086: return "Intel";
    case 0x1002: return "AMD";
    }
    return "unknown";
}

const char *cme__vaapi_vendor_from_string(const char *s)
{
    if (!s)
        return "unknown";
    /* Mesa's string names the driver first and the GPU last ("Mesa Gallium driver 22.3.6
     * for AMD Radeon RX 7600 (...)"), so the GPU vendor is looked for after " for ". */
    const char *gpu = strstr(s, " for ");
    const char *hay = gpu ? gpu : s;
    if (strstr(hay, "AMD") || strstr(hay, "Radeon"))
        return "AMD";
    if (strstr(hay, "Intel") || strstr(s, "iHD") || strstr(s, "i965"))
        return "Intel";
    if (strstr(hay, "NVIDIA") || strstr(hay, "nvidia"))
        return "NVIDIA";
    return "unknown";
}

/* Software encoders: one device each, bounded by the cores. */
static void software(CmeDiscovery *d, const char *backend)
{
    const CmeEncoderImpl *impl = cme__encoder_find_name(backend);
    char msg[256] = { 0 };
    if (!impl) {
        cme__discovery_note(d, backend, 0, 0, "not built into this binary");
        return;
    }
    int r = impl->probe(msg, sizeof(msg));
    cme__discovery_note(d, backend, 1, r == 0, "%s", msg);
    if (r < 0)
        return;
    CmeEncoderCaps c;
    memset(&c, 0, sizeof(c));
    if (impl->caps(&c, msg, sizeof(msg)) < 0)
        return;
    CmeDeviceInfo *dev = cme__discovery_add(d);
    if (!dev)
        return;
    snprintf(dev->id, sizeof(dev->id), "cpu-%s", backend);
    snprintf(dev->backend, sizeof(dev->backend), "%s", backend);
    snprintf(dev->vendor, sizeof(dev->vendor), "CPU");
    snprintf(dev->name, sizeof(dev->name), "%s", c.encoder);
    dev->sessions = 0;
    dev->max_width = c.max_width;
    dev->max_height = c.max_height;
    dev->ten_bit = (c.bit_depths & (1u << 10)) != 0;
    dev->av1_encode = 1;
    dev->can_run = 1;
    snprintf(dev->status, sizeof(dev->status), "%s %d..%d, %s", c.preset_name, c.preset_min,
             c.preset_max,
             c.midjob_open_safe ? "encoders may open mid-job"
                                : "every encoder opened before the first frame");
}

/* A hardware backend through FFmpeg only (AMF has no discovery SDK here). */
static void lavc_only(CmeDiscovery *d, const char *backend)
{
    const CmeEncoderImpl *impl = cme__encoder_find_name(backend);
    char msg[256] = { 0 };
    if (!impl) {
        cme__discovery_note(d, backend, 0, 0, "not built into this binary");
        return;
    }
    int r = impl->probe(msg, sizeof(msg));
    cme__discovery_note(
        d, backend, 1, r == 0,
        r == 0 ? "%s (no device query: the encoder finds its GPU when opened)" : "%s", msg);
}

void cme__devices_discover(CmeDiscovery *d)
{
    memset(d, 0, sizeof(*d));
    software(d, "svt");
    software(d, "aom");
    software(d, "rav1e");
#if CME_HAVE_NVENC
    cme__nvenc_discover(d);
#else
    cme__discovery_note(d, "nvenc", 0, 0,
                        "not built into this binary (nv-codec-headers missing at build time)");
#endif
#if CME_HAVE_ONEVPL
    cme__vpl_discover(d);
#else
    cme__discovery_note(d, "qsv", 0, 0, "not built into this binary (libvpl-dev missing)");
#endif
#if CME_HAVE_VAAPI
    cme__vaapi_discover(d);
#else
    cme__discovery_note(d, "vaapi", 0, 0, "not built into this binary (libva-dev missing)");
#endif
    lavc_only(d, "amf");
    /* FFmpeg's AV1 encoders, for the user who wonders why a GPU backend cannot encode. */
    static const CmeLavcSpec ff[] = {
        { .encoder = "libaom-av1" },
        { .encoder = "librav1e" },
        { .encoder = "av1_nvenc", .needs = "FFmpeg >= 6.0", .hardware = 1 },
        { .encoder = "av1_qsv", .needs = "FFmpeg >= 6.0", .hardware = 1 },
        { .encoder = "av1_vaapi", .needs = "FFmpeg >= 6.0", .hardware = 1 },
        { .encoder = "av1_amf", .needs = "FFmpeg >= 6.0", .hardware = 1 },
    };
    for (size_t i = 0; i < sizeof(ff) / sizeof(ff[0]); i++) {
        char msg[256];
        int r = cme__lavc_probe(&ff[i], msg, sizeof(msg));
        cme__discovery_note(d, "ffmpeg", 1, r == 0, "%s", msg);
    }
}
