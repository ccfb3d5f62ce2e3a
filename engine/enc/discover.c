/* Device discovery across backends (discover.h): software devices, then each SDK. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmafeng/common.h"
#include "enc/discover.h"
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

int cme__discovery_fill_pool(const CmeDiscovery *d, CmeLeasePool *pool, int software_sessions,
                             int max_hw_sessions)
{
    int added = 0;
    for (int i = 0; i < d->nb_devices; i++) {
        const CmeDeviceInfo *dev = &d->devices[i];
        const CmeEncoderImpl *impl = cme__encoder_find_name(dev->backend);
        if (!dev->can_run || !dev->av1_encode || !impl)
            continue;
        CmeEncoderCaps c;
        char msg[256];
        memset(&c, 0, sizeof(c));
        if (impl->caps(&c, msg, sizeof(msg)) < 0)
            continue;
        int sessions = software_sessions;
        if (c.hardware) {
            sessions = dev->sessions > 0 && dev->sessions < max_hw_sessions ? dev->sessions
                                                                            : max_hw_sessions;
        }
        if (sessions < 1)
            continue;
        int r = cme__lease_pool_add(pool, dev->id, impl->backend, sessions, 0);
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
