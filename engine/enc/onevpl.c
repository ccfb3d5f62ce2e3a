/*
 * Intel oneVPL (QSV) backend. The dispatcher library is dlopen()ed at probe time rather
 * than linked, so the binary starts on machines without it; the probe asks the
 * dispatcher for an implementation that can encode AV1 in hardware.
 * Encoding itself is not implemented yet: open() reports that plainly.
 */
#include "cmafeng_config.h"

#if CME_HAVE_ONEVPL
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>

#include <vpl/mfx.h>

#include "cmafeng/common.h"
#include "enc/encoder.h"

typedef struct VplPriv {
    int unused;
} VplPriv;

typedef mfxLoader (*LoadFn)(void);
typedef void (*UnloadFn)(mfxLoader);
typedef mfxConfig (*CreateConfigFn)(mfxLoader);
typedef mfxStatus (*SetFilterFn)(mfxConfig, const mfxU8 *, mfxVariant);
typedef mfxStatus (*CreateSessionFn)(mfxLoader, mfxU32, mfxSession *);
typedef mfxStatus (*CloseFn)(mfxSession);

static int vpl_probe(char *msg, size_t msglen)
{
    void *lib = dlopen("libvpl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(msg, msglen, "no oneVPL device: libvpl.so.2 not found");
        return CME_ENODEV;
    }
    LoadFn load = (LoadFn)dlsym(lib, "MFXLoad");
    UnloadFn unload = (UnloadFn)dlsym(lib, "MFXUnload");
    CreateConfigFn create_config = (CreateConfigFn)dlsym(lib, "MFXCreateConfig");
    SetFilterFn set_filter = (SetFilterFn)dlsym(lib, "MFXSetConfigFilterProperty");
    CreateSessionFn create_session = (CreateSessionFn)dlsym(lib, "MFXCreateSession");
    CloseFn close_session = (CloseFn)dlsym(lib, "MFXClose");
    if (!load || !unload || !create_config || !set_filter || !create_session || !close_session) {
        dlclose(lib);
        snprintf(msg, msglen, "no oneVPL device: libvpl.so.2 lacks the 2.x dispatcher API");
        return CME_ENODEV;
    }
    int ret = CME_ENODEV;
    mfxLoader loader = load();
    mfxConfig cfg = loader ? create_config(loader) : NULL;
    if (cfg) {
        mfxVariant v;
        v.Version.Version = 0;
        v.Type = MFX_VARIANT_TYPE_U32;
        v.Data.U32 = MFX_IMPL_TYPE_HARDWARE;
        set_filter(cfg, (const mfxU8 *)"mfxImplDescription.Impl", v);
        v.Data.U32 = MFX_CODEC_AV1;
        set_filter(cfg, (const mfxU8 *)"mfxImplDescription.mfxEncoderDescription.encoder.CodecID",
                   v);
        mfxSession session = NULL;
        if (create_session(loader, 0, &session) == MFX_ERR_NONE) {
            close_session(session);
            snprintf(msg, msglen,
                     "oneVPL hardware AV1 encoder found, but the QSV encode "
                     "path is not implemented in this version");
            ret = CME_EUNSUPPORTED;
        } else {
            snprintf(msg, msglen, "no oneVPL device: no hardware implementation with AV1 encode");
        }
    } else {
        snprintf(msg, msglen, "no oneVPL device: the dispatcher could not be initialised");
    }
    if (loader)
        unload(loader);
    dlclose(lib);
    return ret;
}

/* Intel Arc / Meteor Lake AV1 encode: 8 and 10 bit, up to 8192x8192, target usage 1..7. */
static int vpl_caps(CmeEncoderCaps *c, char *msg, size_t msglen)
{
    (void)msg;
    (void)msglen;
    *c = (CmeEncoderCaps){
        .encoder = "oneVPL AV1",
        .bit_depths = 1u << 8 | 1u << 10,
        .min_width = 16,
        .min_height = 16,
        .max_width = 8192,
        .max_height = 8192,
        .preset_min = 1,
        .preset_max = 7,
        .preset_name = "TargetUsage",
        .crf_min = 1,
        .crf_max = 63,
        .rc_modes = CME_RC_CQP | CME_RC_CRF,
        .rc_note = "crf c becomes ICQ quality c, or CQP qindex 4c",
        .level_settable = 1,
        .midjob_open_safe = 1,
        .forced_keyframes = 1,
        .hardware = 1,
    };
    return 0;
}

static int vpl_open(void *priv, const CmeEncoderSettings *s, char *err, size_t errlen)
{
    int r = vpl_probe(err, errlen);
    return r < 0 ? r : CME_EUNSUPPORTED;
}

const CmeEncoderImpl cme__encoder_onevpl = {
    .name = "qsv",
    .backend = CME_BACKEND_QSV,
    .priv_size = sizeof(VplPriv),
    .caps = vpl_caps,
    .probe = vpl_probe,
    .open = vpl_open,
    .send_frame = cme__enc_unsupported_send,
    .receive_packet = cme__enc_unsupported_receive,
    .close = cme__enc_unsupported_close,
};
#endif
