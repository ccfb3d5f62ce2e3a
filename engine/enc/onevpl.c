/*
 * Intel oneVPL (QSV) backend: native AV1 encode against the libvpl 2.x dispatcher (API
 * 2.8 headers, Debian's libvpl 2023.1). The dispatcher is dlopen()ed when discovery or an
 * encoder needs it, so the binary starts on machines without it.
 *
 * Discovery: MFXEnumImplementations with MFX_IMPLCAPS_IMPLDESCSTRUCTURE lists one
 * description per implementation and adapter; cme__vpl_fill keeps the hardware ones whose
 * encoder list has MFX_CODEC_AV1 (Arc, Meteor Lake and later).
 *
 * Encoding: a session on the chosen adapter (filter on the implementation index), AV1
 * Main with CQP (qindex 4 * crf) or ICQ, NV12 (8-bit) or P010 (10-bit) system-memory
 * input through surfaces the library allocates (MFXMemory_GetSurfaceForEncode), an IDR
 * key frame forced at every chunk start (mfxEncodeCtrl.FrameType), up to AsyncDepth
 * frames in flight, each synced in submission order (MFXVideoCORE_SyncOperation), so
 * packets come back one per frame in order. The configuration translation
 * (cme__vpl_params) is unit-tested; the encode path has not run on an Intel GPU (none
 * here), which `cmafeng devices` and the README say.
 */
#include "cmafeng_config.h"

#if CME_HAVE_ONEVPL
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vpl/mfx.h>

#include "cmafeng/common.h"
#include "enc/discover.h"
#include "enc/encoder.h"
#include "enc/lavc.h"
#include "enc/onevpl.h"

/* --- the dispatcher, loaded lazily ----------------------------------------------------- */

typedef struct VplLib {
    void *so;
    mfxLoader (*load)(void);
    void (*unload)(mfxLoader);
    mfxConfig (*create_config)(mfxLoader);
    mfxStatus (*set_filter)(mfxConfig, const mfxU8 *, mfxVariant);
    mfxStatus (*enum_impl)(mfxLoader, mfxU32, mfxImplCapsDeliveryFormat, mfxHDL *);
    mfxStatus (*release_desc)(mfxLoader, mfxHDL);
    mfxStatus (*create_session)(mfxLoader, mfxU32, mfxSession *);
    mfxStatus (*close)(mfxSession);
    mfxStatus (*enc_init)(mfxSession, mfxVideoParam *);
    mfxStatus (*enc_get_param)(mfxSession, mfxVideoParam *);
    mfxStatus (*enc_frame)(mfxSession, mfxEncodeCtrl *, mfxFrameSurface1 *, mfxBitstream *,
                           mfxSyncPoint *);
    mfxStatus (*enc_close)(mfxSession);
    mfxStatus (*sync)(mfxSession, mfxSyncPoint, mfxU32);
    mfxStatus (*get_surface)(mfxSession, mfxFrameSurface1 **);
} VplLib;

static void vpl_unload(VplLib *l)
{
    if (l->so)
        dlclose(l->so);
    memset(l, 0, sizeof(*l));
}

static int vpl_load(VplLib *l, char *msg, size_t msglen)
{
    memset(l, 0, sizeof(*l));
    l->so = dlopen("libvpl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!l->so) {
        snprintf(msg, msglen, "no oneVPL device: libvpl.so.2 not found");
        return CME_ENODEV;
    }
#define SYM(field, name) *(void **)&l->field = dlsym(l->so, name)
    SYM(load, "MFXLoad");
    SYM(unload, "MFXUnload");
    SYM(create_config, "MFXCreateConfig");
    SYM(set_filter, "MFXSetConfigFilterProperty");
    SYM(enum_impl, "MFXEnumImplementations");
    SYM(release_desc, "MFXDispReleaseImplDescription");
    SYM(create_session, "MFXCreateSession");
    SYM(close, "MFXClose");
    SYM(enc_init, "MFXVideoENCODE_Init");
    SYM(enc_get_param, "MFXVideoENCODE_GetVideoParam");
    SYM(enc_frame, "MFXVideoENCODE_EncodeFrameAsync");
    SYM(enc_close, "MFXVideoENCODE_Close");
    SYM(sync, "MFXVideoCORE_SyncOperation");
    SYM(get_surface, "MFXMemory_GetSurfaceForEncode");
#undef SYM
    if (!l->load || !l->unload || !l->create_config || !l->set_filter || !l->enum_impl ||
        !l->release_desc || !l->create_session || !l->close || !l->enc_init || !l->enc_frame ||
        !l->enc_close || !l->sync || !l->get_surface || !l->enc_get_param) {
        vpl_unload(l);
        snprintf(msg, msglen, "no oneVPL device: libvpl.so.2 lacks the 2.x dispatcher API");
        return CME_ENODEV;
    }
    return 0;
}

/* --- discovery ------------------------------------------------------------------------- */

int cme__vpl_fill(CmeDeviceInfo *dev, int index, const mfxImplDescription *d)
{
    memset(dev, 0, sizeof(*dev));
    if (d->Impl != MFX_IMPL_TYPE_HARDWARE)
        return 0;
    int found = 0;
    for (int c = 0; c < d->Enc.NumCodecs && d->Enc.Codecs; c++) {
        const struct encoder *e = &d->Enc.Codecs[c];
        if (e->CodecID != MFX_CODEC_AV1)
            continue;
        found = 1;
        for (int p = 0; p < e->NumProfiles && e->Profiles; p++) {
            const struct encprofile *pr = &e->Profiles[p];
            for (int m = 0; m < pr->NumMemTypes && pr->MemDesc; m++) {
                const struct encmemdesc *md = &pr->MemDesc[m];
                if ((int)md->Width.Max > dev->max_width)
                    dev->max_width = (int)md->Width.Max;
                if ((int)md->Height.Max > dev->max_height)
                    dev->max_height = (int)md->Height.Max;
                for (int f = 0; f < md->NumColorFormats && md->ColorFormats; f++)
                    if (md->ColorFormats[f] == MFX_FOURCC_P010)
                        dev->ten_bit = 1;
            }
        }
    }
    if (!found)
        return 0;
    snprintf(dev->id, sizeof(dev->id), "qsv:%d", index);
    snprintf(dev->backend, sizeof(dev->backend), "qsv");
    snprintf(dev->vendor, sizeof(dev->vendor), "%s", cme__pci_vendor(d->VendorID));
    snprintf(dev->name, sizeof(dev->name), "%.48s (device %.32s)", d->ImplName, d->Dev.DeviceID);
    snprintf(dev->path, sizeof(dev->path), "%d", index);
    dev->av1_encode = 1;
    dev->sessions = 0;
    snprintf(dev->status, sizeof(dev->status), "AV1 encode, up to %dx%d, %s", dev->max_width,
             dev->max_height, dev->ten_bit ? "8 and 10 bit" : "8 bit");
    return 1;
}

void cme__vpl_discover(CmeDiscovery *d)
{
    char msg[256];
    VplLib l;
    if (vpl_load(&l, msg, sizeof(msg)) < 0) {
        cme__discovery_note(d, "qsv", 1, 0, "%s", msg);
        return;
    }
    mfxLoader loader = l.load();
    int impls = 0, av1 = 0;
    for (mfxU32 i = 0; loader; i++) {
        mfxHDL h = NULL;
        if (l.enum_impl(loader, i, MFX_IMPLCAPS_IMPLDESCSTRUCTURE, &h) != MFX_ERR_NONE || !h)
            break;
        impls++;
        CmeDeviceInfo tmp;
        if (cme__vpl_fill(&tmp, (int)i, (const mfxImplDescription *)h)) {
            CmeDeviceInfo *dev = cme__discovery_add(d);
            if (dev) {
                *dev = tmp;
                dev->can_run = 1;
                snprintf(dev->status + strlen(dev->status),
                         sizeof(dev->status) - strlen(dev->status),
                         "; native oneVPL encode (untested on hardware in this project)");
                av1++;
            }
        }
        l.release_desc(loader, h);
    }
    if (loader)
        l.unload(loader);
    vpl_unload(&l);
    cme__discovery_note(d, "qsv", 1, av1 > 0,
                        av1 ? "%d implementation(s), %d hardware with AV1 encode"
                            : "no oneVPL device: %d implementation(s), none hardware with AV1 "
                              "encode (needs an Intel Arc / Meteor Lake GPU and its runtime)",
                        impls, av1);
}

static int vpl_probe(char *msg, size_t msglen)
{
    CmeDiscovery *d = calloc(1, sizeof(*d));
    if (!d)
        return CME_ENOMEM;
    cme__vpl_discover(d);
    int r = d->nb_devices > 0 ? 0 : CME_ENODEV;
    snprintf(msg, msglen, "%s",
             r == 0        ? d->devices[0].status
             : d->nb_notes ? d->notes[0].status
                           : "no device");
    free(d);
    return r;
}

/* --- configuration translation (pure) --------------------------------------------------- */

int cme__vpl_params(const CmeEncoderSettings *s, int icq, CmeVplParams *out, char *err,
                    size_t errlen)
{
    memset(out, 0, sizeof(*out));
    mfxVideoParam *p = &out->par;
    if (s->bit_depth != 8 && s->bit_depth != 10) {
        snprintf(err, errlen, "oneVPL AV1: bit depth %d (8 or 10)", s->bit_depth);
        return CME_EINVAL;
    }
    if (s->preset < 1 || s->preset > 7) {
        snprintf(err, errlen, "preset %d is out of range for oneVPL AV1 (TargetUsage 1..7)",
                 s->preset);
        return CME_EINVAL;
    }
    if (s->crf < 1 || s->crf > 63 || s->fps_num <= 0 || s->fps_den <= 0 || s->width < 16 ||
        s->height < 16 || (s->width & 1) || (s->height & 1)) {
        snprintf(err, errlen, "oneVPL AV1: bad settings (%dx%d, crf %d, %d/%d fps)", s->width,
                 s->height, s->crf, s->fps_num, s->fps_den);
        return CME_EINVAL;
    }
    p->mfx.CodecId = MFX_CODEC_AV1;
    p->mfx.CodecProfile = MFX_PROFILE_AV1_MAIN;
    /* mfx levels are the level x10 (MFX_LEVEL_AV1_51 = 51), like the recipe's. */
    p->mfx.CodecLevel = (mfxU16)(s->level > 0 ? s->level : 0);
    p->mfx.TargetUsage = (mfxU16)s->preset;
    if (icq) {
        /* ICQ quality is on the encoder's 1..51 scale: the recipe's 1..63 scaled down. */
        p->mfx.RateControlMethod = MFX_RATECONTROL_ICQ;
        p->mfx.ICQQuality = (mfxU16)(1 + (s->crf - 1) * 50 / 62);
    } else {
        /* AV1 quantizers in oneVPL are qindex values 0..255. */
        const int q = cme__lavc_crf_to_qindex(s->crf);
        p->mfx.RateControlMethod = MFX_RATECONTROL_CQP;
        p->mfx.QPI = p->mfx.QPP = p->mfx.QPB = (mfxU16)q;
    }
    /* Closed GOP, key frames only where forced (every chunk start) or every keyint. */
    p->mfx.GopPicSize = (mfxU16)(s->keyint > 0 && s->keyint < 65535 ? s->keyint : 0);
    p->mfx.GopRefDist = 1;
    p->mfx.GopOptFlag = MFX_GOP_CLOSED;
    p->mfx.IdrInterval = 0; /* every key frame is an IDR: a sequence header with each */
    mfxFrameInfo *fi = &p->mfx.FrameInfo;
    fi->FourCC = s->bit_depth == 10 ? MFX_FOURCC_P010 : MFX_FOURCC_NV12;
    fi->ChromaFormat = MFX_CHROMAFORMAT_YUV420;
    fi->BitDepthLuma = fi->BitDepthChroma = (mfxU16)s->bit_depth;
    fi->Shift = s->bit_depth == 10; /* P010: samples in the high bits */
    fi->PicStruct = MFX_PICSTRUCT_PROGRESSIVE;
    fi->Width = (mfxU16)((s->width + 15) & ~15);
    fi->Height = (mfxU16)((s->height + 15) & ~15);
    fi->CropX = fi->CropY = 0;
    fi->CropW = (mfxU16)s->width;
    fi->CropH = (mfxU16)s->height;
    fi->FrameRateExtN = (mfxU32)s->fps_num;
    fi->FrameRateExtD = (mfxU32)s->fps_den;
    p->IOPattern = MFX_IOPATTERN_IN_SYSTEM_MEMORY;
    p->AsyncDepth = CME_VPL_ASYNC_DEPTH;
    /* The colour description from the source (ISO/IEC 23091-4 code points). */
    out->vsi.Header.BufferId = MFX_EXTBUFF_VIDEO_SIGNAL_INFO;
    out->vsi.Header.BufferSz = sizeof(out->vsi);
    out->vsi.VideoFormat = 5; /* unspecified */
    out->vsi.VideoFullRange = (mfxU16)(s->full_range != 0);
    out->vsi.ColourDescriptionPresent =
        s->color_primaries != 2 || s->transfer_characteristics != 2 || s->matrix_coefficients != 2;
    out->vsi.ColourPrimaries = (mfxU16)s->color_primaries;
    out->vsi.TransferCharacteristics = (mfxU16)s->transfer_characteristics;
    out->vsi.MatrixCoefficients = (mfxU16)s->matrix_coefficients;
    out->ext[0] = &out->vsi.Header;
    p->ExtParam = out->ext;
    p->NumExtParam = 1;
    return 0;
}

/* --- encoding --------------------------------------------------------------------------- */

/* One frame in flight: its bitstream buffer and sync point. */
typedef struct VplSlot {
    mfxBitstream bs;
    mfxSyncPoint sync;
    int busy;
} VplSlot;

typedef struct VplPriv {
    VplLib lib;
    mfxLoader loader;
    mfxSession session;
    CmeVplParams params;
    int initialized;
    CmeEncoderSettings set;
    VplSlot slots[CME_VPL_ASYNC_DEPTH];
    int head, count; /* in-flight ring, oldest at head */
    uint8_t *out;    /* the packet last handed out */
    size_t out_size;
    int eos_sent, eof;
} VplPriv;

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
        .rc_note = "crf c becomes CQP qindex 4c (ICQ on request)",
        .level_settable = 1,
        .midjob_open_safe = 1,
        .forced_keyframes = 1,
        .hardware = 1,
    };
    return 0;
}

static int vpl_open(void *priv, const CmeEncoderSettings *s, char *err, size_t errlen)
{
    VplPriv *p = priv;
    p->set = *s;
    int r = cme__vpl_params(s, 0, &p->params, err, errlen);
    if (r < 0)
        return r;
    r = vpl_load(&p->lib, err, errlen);
    if (r < 0)
        return r;
    p->loader = p->lib.load();
    mfxConfig cfg = p->loader ? p->lib.create_config(p->loader) : NULL;
    if (!cfg) {
        snprintf(err, errlen, "oneVPL: the dispatcher could not be initialised");
        return CME_ENODEV;
    }
    mfxVariant v;
    memset(&v, 0, sizeof(v));
    v.Type = MFX_VARIANT_TYPE_U32;
    v.Data.U32 = MFX_IMPL_TYPE_HARDWARE;
    p->lib.set_filter(cfg, (const mfxU8 *)"mfxImplDescription.Impl", v);
    v.Data.U32 = MFX_CODEC_AV1;
    p->lib.set_filter(cfg,
                      (const mfxU8 *)"mfxImplDescription.mfxEncoderDescription.encoder.CodecID", v);
    /* The adapter: the implementation index discovery reported ("" = the first). */
    mfxU32 index = s->hw_device[0] ? (mfxU32)strtoul(s->hw_device, NULL, 10) : 0;
    if (p->lib.create_session(p->loader, index, &p->session) != MFX_ERR_NONE) {
        snprintf(err, errlen, "oneVPL: no hardware AV1 encoder at implementation %u", index);
        p->session = NULL;
        return CME_ENODEV;
    }
    mfxStatus st = p->lib.enc_init(p->session, &p->params.par);
    if (st < MFX_ERR_NONE) {
        snprintf(err, errlen, "oneVPL: MFXVideoENCODE_Init rejected the AV1 configuration (%d)",
                 (int)st);
        return CME_EENCODER;
    }
    p->initialized = 1;
    mfxVideoParam got;
    memset(&got, 0, sizeof(got));
    p->lib.enc_get_param(p->session, &got);
    size_t cap = got.mfx.BufferSizeInKB
                     ? (size_t)got.mfx.BufferSizeInKB * 1000 *
                           (got.mfx.BRCParamMultiplier ? got.mfx.BRCParamMultiplier : 1)
                     : (size_t)s->width * s->height * 3;
    for (int i = 0; i < CME_VPL_ASYNC_DEPTH; i++) {
        p->slots[i].bs.Data = malloc(cap);
        if (!p->slots[i].bs.Data)
            return CME_ENOMEM;
        p->slots[i].bs.MaxLength = (mfxU32)cap;
    }
    return 0;
}

/* Copies a 4:2:0 planar frame into an NV12 / P010 surface (P010: 10 bits in the high). */
static int fill_surface(VplPriv *p, mfxFrameSurface1 *surf, const CmeEncFrame *f)
{
    if (surf->FrameInterface->Map(surf, MFX_MAP_WRITE) != MFX_ERR_NONE)
        return CME_EENCODER;
    const int w = p->set.width, h = p->set.height;
    mfxFrameData *d = &surf->Data;
    const int pitch = d->PitchLow | (d->PitchHigh << 16);
    if (p->set.bit_depth == 8) {
        for (int y = 0; y < h; y++)
            memcpy(d->Y + (size_t)y * pitch, f->planes[0] + (size_t)y * f->strides[0], (size_t)w);
        for (int y = 0; y < h / 2; y++) {
            uint8_t *uv = d->UV + (size_t)y * pitch;
            const uint8_t *u = f->planes[1] + (size_t)y * f->strides[1];
            const uint8_t *v = f->planes[2] + (size_t)y * f->strides[2];
            for (int x = 0; x < w / 2; x++) {
                uv[2 * x] = u[x];
                uv[2 * x + 1] = v[x];
            }
        }
    } else {
        for (int y = 0; y < h; y++) {
            uint16_t *dst = (uint16_t *)(d->Y + (size_t)y * pitch);
            const uint16_t *src = (const uint16_t *)(f->planes[0] + (size_t)y * f->strides[0]);
            for (int x = 0; x < w; x++)
                dst[x] = (uint16_t)(src[x] << 6);
        }
        for (int y = 0; y < h / 2; y++) {
            uint16_t *uv = (uint16_t *)(d->UV + (size_t)y * pitch);
            const uint16_t *u = (const uint16_t *)(f->planes[1] + (size_t)y * f->strides[1]);
            const uint16_t *v = (const uint16_t *)(f->planes[2] + (size_t)y * f->strides[2]);
            for (int x = 0; x < w / 2; x++) {
                uv[2 * x] = (uint16_t)(u[x] << 6);
                uv[2 * x + 1] = (uint16_t)(v[x] << 6);
            }
        }
    }
    surf->FrameInterface->Unmap(surf);
    return 0;
}

/* Submits a frame (NULL: drain) into the next free slot. 1 when a packet was queued, 0
 * when the encoder wants more input, CME_EAGAIN when every slot is in flight. */
static int submit(VplPriv *p, mfxFrameSurface1 *surf, mfxEncodeCtrl *ctrl)
{
    if (p->count == CME_VPL_ASYNC_DEPTH)
        return CME_EAGAIN;
    VplSlot *slot = &p->slots[(p->head + p->count) % CME_VPL_ASYNC_DEPTH];
    slot->bs.DataOffset = slot->bs.DataLength = 0;
    mfxStatus st = p->lib.enc_frame(p->session, ctrl, surf, &slot->bs, &slot->sync);
    if (st == MFX_ERR_MORE_DATA)
        return 0;
    if (st < MFX_ERR_NONE || !slot->sync)
        return st == MFX_ERR_MORE_DATA ? 0 : CME_EENCODER;
    slot->busy = 1;
    p->count++;
    return 1;
}

static int vpl_send(void *priv, const CmeEncFrame *f)
{
    VplPriv *p = priv;
    if (!f) {
        p->eos_sent = 1;
        return 0; /* drained in receive: EncodeFrameAsync(NULL) until MORE_DATA */
    }
    if (p->eos_sent)
        return CME_EINVAL;
    if (p->count == CME_VPL_ASYNC_DEPTH)
        return CME_EAGAIN;
    mfxFrameSurface1 *surf = NULL;
    if (p->lib.get_surface(p->session, &surf) != MFX_ERR_NONE || !surf)
        return CME_ENOMEM;
    int r = fill_surface(p, surf, f);
    surf->Data.TimeStamp = (mfxU64)f->pts;
    mfxEncodeCtrl ctrl;
    memset(&ctrl, 0, sizeof(ctrl));
    if (f->force_key)
        ctrl.FrameType = MFX_FRAMETYPE_I | MFX_FRAMETYPE_IDR | MFX_FRAMETYPE_REF;
    if (r == 0)
        r = submit(p, surf, f->force_key ? &ctrl : NULL);
    surf->FrameInterface->Release(surf); /* the encoder holds its own reference */
    return r < 0 ? r : 0;
}

static int vpl_receive(void *priv, CmeEncPacket *pkt)
{
    VplPriv *p = priv;
    if (p->eof)
        return CME_EOF;
    if (p->count == 0 && p->eos_sent) {
        int r = submit(p, NULL, NULL);
        if (r < 0)
            return r;
        if (r == 0) {
            p->eof = 1;
            return CME_EOF;
        }
    }
    /* Output only when the ring is full (keeps AsyncDepth frames in flight) or draining. */
    if (p->count == 0 || (p->count < CME_VPL_ASYNC_DEPTH && !p->eos_sent))
        return CME_EAGAIN;
    VplSlot *slot = &p->slots[p->head];
    if (p->lib.sync(p->session, slot->sync, 60000) < MFX_ERR_NONE)
        return CME_EENCODER;
    slot->busy = 0;
    p->head = (p->head + 1) % CME_VPL_ASYNC_DEPTH;
    p->count--;
    pkt->data = slot->bs.Data + slot->bs.DataOffset;
    pkt->size = slot->bs.DataLength;
    pkt->pts = (int64_t)slot->bs.TimeStamp;
    pkt->key = (slot->bs.FrameType & (MFX_FRAMETYPE_IDR | MFX_FRAMETYPE_I)) != 0;
    return 0;
}

static void vpl_close(void *priv)
{
    VplPriv *p = priv;
    if (p->initialized)
        p->lib.enc_close(p->session);
    if (p->session)
        p->lib.close(p->session);
    if (p->loader)
        p->lib.unload(p->loader);
    for (int i = 0; i < CME_VPL_ASYNC_DEPTH; i++)
        free(p->slots[i].bs.Data);
    vpl_unload(&p->lib);
    memset(p, 0, sizeof(*p));
}

const CmeEncoderImpl cme__encoder_onevpl = {
    .name = "qsv",
    .backend = CME_BACKEND_QSV,
    .priv_size = sizeof(VplPriv),
    .caps = vpl_caps,
    .probe = vpl_probe,
    .open = vpl_open,
    .send_frame = vpl_send,
    .receive_packet = vpl_receive,
    .close = vpl_close,
};
#endif
