/*
 * Device discovery: what encoders this machine has, asked of each SDK at run time. Every
 * hardware runtime is dlopen()ed when discovery runs (never at start-up), so the binary
 * runs anywhere and a machine without a GPU gets one line per backend saying why.
 *
 * Each backend's answer is turned into CmeDeviceInfo by a pure function that takes the
 * SDK's own structures (GUID lists and caps values for NVENC, entrypoints and config
 * attributes for VA-API, implementation descriptions for oneVPL), so the parsing is unit
 * tested from recorded structures without the hardware (tests/c/test_devices.c).
 *
 * Discovery runs on the policy thread, before a job starts (`cmafeng devices`, and a job whose
 * recipe says `devices = "auto"` or names a hardware backend without an id): it may take a
 * second with a GPU present.
 */
#ifndef CME_ENC_DISCOVER_H
#define CME_ENC_DISCOVER_H

#include <stddef.h>
#include <stdint.h>

#include "cmafeng_config.h"

#define CME_MAX_DISCOVERED 32

/* One encoder device, ready to become a lease-pool device. */
typedef struct CmeDeviceInfo {
    char id[32];     /* "nvenc:0", "vaapi:renderD128", "qsv:0", "cpu" */
    char backend[8]; /* the recipe's backend name: "svt", "nvenc", "vaapi", "qsv", ... */
    char vendor[32]; /* "NVIDIA", "Intel", "AMD", "CPU" */
    char name[96];   /* the GPU or driver name the SDK reports */
    char path[64];   /* what the backend opens: "/dev/dri/renderD128", CUDA ordinal "0" */
    int sessions;    /* concurrent encode sessions allowed; 0 = bounded by the cores only */
    int max_width, max_height;
    int ten_bit;      /* AV1 Main 10-bit encode */
    int av1_encode;   /* the device itself encodes AV1 */
    int can_run;      /* this build can drive it (SDK encode path or FFmpeg encoder present) */
    char status[192]; /* what works, or what is missing */
} CmeDeviceInfo;

/* One line per backend: "nvenc: no NVENC device: libcuda not found". */
typedef struct CmeBackendNote {
    char backend[8];
    int built;     /* compiled into this binary */
    int available; /* at least one device can run */
    char status[256];
} CmeBackendNote;

typedef struct CmeDiscovery {
    CmeDeviceInfo devices[CME_MAX_DISCOVERED];
    int nb_devices;
    CmeBackendNote notes[16];
    int nb_notes;
} CmeDiscovery;

/*
 * Asks every backend for its devices. Software backends become one "cpu" device each
 * (sessions 0: the cores bound them). Never fails: what is missing is in the notes.
 * Policy thread only (libva and CUDA initialisation are not re-entrant here).
 */
void cme__devices_discover(CmeDiscovery *out);

struct CmeLeasePool;
struct CmeDevice;

/*
 * The lease-pool device a discovered device becomes: its id, backend, path (CmeDevice.path,
 * which the worker passes as CmeEncoderSettings.hw_device), size limits and 10-bit support,
 * and its session cap: software devices software_sessions (the cores bound them: the
 * caller's worker count), hardware devices their own cap limited to max_hw_sessions (NVENC
 * reports 8; an unlimited VA-API or oneVPL device, cap 0, gets max_hw_sessions). Pure.
 * CME_ENODEV when the device cannot encode AV1 with this build (no AV1 encode, the encoder
 * missing from the linked FFmpeg, a backend not built).
 */
int cme__discovery_to_device(const CmeDeviceInfo *dev, int software_sessions, int max_hw_sessions,
                             struct CmeDevice *out);

/*
 * The discovered devices that can run, as pool devices (cme__discovery_to_device), of one
 * backend ("nvenc") or, with backend NULL, of every hardware backend; at most max. Returns
 * how many. With none, why says so and why, from the backend's own answer: "no nvenc
 * device: no NVENC device: libcuda not found", or for NULL one clause per hardware backend.
 * Pure (reads d only).
 */
int cme__discovery_select(const CmeDiscovery *d, const char *backend, int max_hw_sessions,
                          struct CmeDevice *out, int max, char *why, size_t whylen);

/*
 * Adds every discovered device that can run to a lease pool (cme__discovery_to_device),
 * before any lease is taken. Returns the number of devices added, or CME_ERANGE when the
 * pool is full.
 */
int cme__discovery_fill_pool(const CmeDiscovery *d, struct CmeLeasePool *pool,
                             int software_sessions, int max_hw_sessions);

/* Appends a device; returns it, or NULL when the list is full. */
CmeDeviceInfo *cme__discovery_add(CmeDiscovery *d);
void cme__discovery_note(CmeDiscovery *d, const char *backend, int built, int available,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* --- per-backend discovery (each in its backend's file) -------------------------------- */

void cme__nvenc_discover(CmeDiscovery *d);
void cme__vaapi_discover(CmeDiscovery *d);
void cme__vpl_discover(CmeDiscovery *d);

/* The vendor of a PCI vendor id (0x10de NVIDIA, 0x8086 Intel, 0x1002 AMD), or "unknown". */
const char *cme__pci_vendor(unsigned id);

/* VA-API: the vendor behind a driver's vendor string ("Intel iHD driver for Intel(R) Gen
 * Graphics - 23.1.1 ()", "Mesa Gallium driver 22.3.6 for AMD Radeon RX 7600").
 * Pure. */
const char *cme__vaapi_vendor_from_string(const char *vendor_string);

#if CME_HAVE_NVENC
#include <ffnvcodec/nvEncodeAPI.h>
/* NV_ENC_CODEC_AV1_GUID of NVENC API 12 ({0A352289-0AA7-4759-862D-5D15CD16D254}); the
 * 11.1 headers Debian ships predate it, so it is declared here. */
extern const GUID cme__nvenc_av1_guid;
/* Pure: the answer of nvEncGetEncodeGUIDs. 1 when AV1 is among them. */
int cme__nvenc_has_av1(const GUID *guids, uint32_t count);
/*
 * Pure: fills a device from the answers of nvEncGetEncodeCaps for the AV1 GUID
 * (NV_ENC_CAPS_WIDTH_MAX, _HEIGHT_MAX, _SUPPORT_10BIT_ENCODE) and the GPU's name and
 * ordinal. A GPU without AV1 (before Ada Lovelace) is listed with av1_encode = 0.
 */
void cme__nvenc_fill(CmeDeviceInfo *dev, int ordinal, const char *gpu_name, int has_av1,
                     int width_max, int height_max, int ten_bit);
#endif

#if CME_HAVE_VAAPI
#include <va/va.h>
/* Pure: from vaQueryConfigEntrypoints(VAProfileAV1Profile0): which encode entrypoint to
 * use (EncSliceLP preferred, the low-power fixed-function path on Intel), 0 if none. */
VAEntrypoint cme__vaapi_av1_entrypoint(const VAEntrypoint *eps, int count);
/*
 * Pure: fills a device from a render node's answers: the vendor string, the chosen
 * entrypoint (0: none) and vaGetConfigAttributes for VAConfigAttribRTFormat,
 * VAConfigAttribMaxPictureWidth and VAConfigAttribMaxPictureHeight (VA_ATTRIB_NOT_SUPPORTED
 * values are ignored; AV1 Main allows 8192 wide then).
 */
void cme__vaapi_fill(CmeDeviceInfo *dev, const char *node, const char *vendor_string,
                     VAEntrypoint ep, const VAConfigAttrib *attrs, int nb_attrs);
#endif

#if CME_HAVE_ONEVPL
#include <vpl/mfx.h>
/*
 * Pure: fills a device from one implementation description of MFXEnumImplementations
 * (MFX_IMPLCAPS_IMPLDESCSTRUCTURE). Returns 1 when it is a hardware implementation that
 * encodes AV1 (then dev holds its adapter, vendor, max size and 10-bit support), else 0.
 */
int cme__vpl_fill(CmeDeviceInfo *dev, int index, const mfxImplDescription *desc);
#endif

#endif
