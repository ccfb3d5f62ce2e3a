/* The encoder registry, the capability check and the thin wrappers the worker calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmafeng/common.h"
#include "cmafeng/engine.h"
#include "cmafeng_config.h"
#include "enc/encoder.h"

extern const CmeEncoderImpl cme__encoder_svtav1;
extern const CmeEncoderImpl cme__encoder_aom;
extern const CmeEncoderImpl cme__encoder_rav1e;
extern const CmeEncoderImpl cme__encoder_amf;
#if CME_HAVE_NVENC
extern const CmeEncoderImpl cme__encoder_nvenc;
#endif
#if CME_HAVE_ONEVPL
extern const CmeEncoderImpl cme__encoder_onevpl;
#endif
#if CME_HAVE_VAAPI
extern const CmeEncoderImpl cme__encoder_vaapi;
#endif
#if CME_HAVE_FAULT
extern const CmeEncoderImpl cme__encoder_fault;
#endif

/* Software backends first: `cmafeng devices` lists them in this order. The FFmpeg-based
 * entries (aom, rav1e, amf, and nvenc/vaapi's encode half) are always built: whether the
 * linked FFmpeg has the encoder is a runtime question (avcodec_find_encoder_by_name). */
const CmeEncoderImpl *const cme__encoders[] = {
    &cme__encoder_svtav1,
    &cme__encoder_aom,
    &cme__encoder_rav1e,
#if CME_HAVE_NVENC
    &cme__encoder_nvenc,
#endif
#if CME_HAVE_ONEVPL
    &cme__encoder_onevpl,
#endif
#if CME_HAVE_VAAPI
    &cme__encoder_vaapi,
#endif
    &cme__encoder_amf,
#if CME_HAVE_FAULT
    &cme__encoder_fault,
#endif
    NULL,
};

const CmeEncoderImpl *cme__encoder_find(CmeBackend backend)
{
    for (int i = 0; cme__encoders[i]; i++)
        if (cme__encoders[i]->backend == backend)
            return cme__encoders[i];
    return NULL;
}

const CmeEncoderImpl *cme__encoder_find_name(const char *name)
{
    for (int i = 0; cme__encoders[i]; i++)
        if (!strcmp(cme__encoders[i]->name, name))
            return cme__encoders[i];
    return NULL;
}

/* Every backend name a recipe may use, built or not (lua/cmafeng/recipe.lua lists the same
 * names for the schema; test_lavc checks cme__encoder_names against this list). */
const char *const cme__encoder_known[] = { "svt",   "aom", "rav1e", "nvenc", "qsv",
                                           "vaapi", "amf", "fault", NULL };

const char *cme__encoder_names(void)
{
    /* Every name a recipe may use, also those whose SDK headers were missing at build
     * time (they then fail with "not built into this binary"). */
    return "svt, aom, rav1e, nvenc, qsv, vaapi, amf or fault (test builds)";
}

int cme__encoder_lookup(const char *name, const CmeEncoderImpl **out, char *err, size_t errlen)
{
    *out = cme__encoder_find_name(name);
    if (*out)
        return 0;
    for (size_t i = 0; cme__encoder_known[i]; i++) {
        if (!strcmp(name, cme__encoder_known[i])) {
            snprintf(err, errlen,
                     "the %s backend was not built into this binary (its SDK headers were "
                     "missing at build time; see `cmafeng devices`)",
                     name);
            return CME_ENODEV;
        }
    }
    snprintf(err, errlen, "expected %s, got \"%s\"", cme__encoder_names(), name);
    return CME_EINVAL;
}

static const char *rc_mode_name(unsigned m)
{
    return m & CME_RC_CRF ? "crf" : m & CME_RC_CQP ? "cqp" : "vbr";
}

int cme__encoder_check(CmeBackend backend, const CmeEncoderSettings *s, char *err, size_t errlen)
{
    const CmeEncoderImpl *impl = cme__encoder_find(backend);
    if (!impl) {
        snprintf(err, errlen, "backend %s was not built into this binary",
                 cme__backend_name(backend));
        return CME_EUNSUPPORTED;
    }
    CmeEncoderCaps c;
    memset(&c, 0, sizeof(c));
    char msg[256] = { 0 };
    int r = impl->caps(&c, msg, sizeof(msg));
    if (r < 0) {
        snprintf(err, errlen, "%s", msg);
        return r;
    }
    const int depth = s->bit_depth ? s->bit_depth : 8;
    if (depth < 0 || depth > 31 || !(c.bit_depths & (1u << depth))) {
        snprintf(err, errlen, "bit depth %d is not supported by %s (%s)", depth, c.encoder,
                 c.bit_depths == (1u << 8) ? "8 only" : "8 or 10");
        return CME_EUNSUPPORTED;
    }
    if (s->width < c.min_width || s->height < c.min_height || s->width > c.max_width ||
        s->height > c.max_height) {
        snprintf(err, errlen, "%dx%d is out of range for %s (%dx%d..%dx%d)", s->width, s->height,
                 c.encoder, c.min_width, c.min_height, c.max_width, c.max_height);
        return CME_EINVAL;
    }
    if (s->preset < c.preset_min || s->preset > c.preset_max) {
        snprintf(err, errlen, "preset %d is out of range for %s (%s %d..%d)", s->preset, c.encoder,
                 c.preset_name, c.preset_min, c.preset_max);
        return CME_EINVAL;
    }
    if (!(c.rc_modes & (CME_RC_CRF | CME_RC_CQP))) {
        snprintf(err, errlen, "%s offers no constant-quality mode (only %s)", c.encoder,
                 rc_mode_name(c.rc_modes));
        return CME_EUNSUPPORTED;
    }
    if (s->crf < c.crf_min || s->crf > c.crf_max) {
        snprintf(err, errlen, "crf %d is out of range for %s (%d..%d)", s->crf, c.encoder,
                 c.crf_min, c.crf_max);
        return CME_EINVAL;
    }
    if (s->level > 0 && !c.level_settable) {
        snprintf(err, errlen,
                 "%s cannot signal a forced level (level %d.%d asked): it writes the level it "
                 "chooses itself; leave `level` unset on this device",
                 c.encoder, s->level / 10, s->level % 10);
        return CME_EUNSUPPORTED;
    }
    if (s->level > 0 && (s->level < 20 || s->level > 73 || s->level % 10 > 3)) {
        snprintf(err, errlen, "level %d.%d is not an AV1 level (2.0..7.3)", s->level / 10,
                 s->level % 10);
        return CME_EINVAL;
    }
    if (s->threads < 0) {
        snprintf(err, errlen, "threads %d: expected 0 (the encoder's choice) or more", s->threads);
        return CME_EINVAL;
    }
    return 0;
}

int cme__encoder_check_rung(const CmeRungSettings *rung, const CmeDevice *dev, char *err,
                            size_t errlen)
{
    CmeEncoderSettings s = {
        .width = rung->width,
        .height = rung->height,
        .fps_num = 25,
        .fps_den = 1,
        .bit_depth = rung->bit_depth ? rung->bit_depth : 8,
        .crf = rung->crf,
        .preset = rung->preset,
        .threads = dev->threads,
        .level = dev->level,
        .keyint = 1,
    };
    char why[384] = { 0 };
    int r = cme__encoder_check(dev->backend, &s, why, sizeof(why));
    if (r < 0) {
        snprintf(err, errlen, "rung %s on device %s: %s", rung->name, dev->id, why);
        return r;
    }
    const CmeEncoderImpl *impl = cme__encoder_find(dev->backend);
    CmeEncoderCaps c;
    memset(&c, 0, sizeof(c));
    if (impl->caps(&c, why, sizeof(why)) == 0 && c.sessions_max > 0 &&
        dev->sessions > c.sessions_max) {
        snprintf(err, errlen, "device %s: %d sessions, but %s allows %d per device", dev->id,
                 dev->sessions, c.encoder, c.sessions_max);
        return CME_EINVAL;
    }
    return 0;
}

int cme__encoder_open(CmeEncoder **out, CmeBackend backend, const CmeEncoderSettings *s, char *err,
                      size_t errlen)
{
    *out = NULL;
    const CmeEncoderImpl *impl = cme__encoder_find(backend);
    if (!impl) {
        snprintf(err, errlen, "backend %s was not built into this binary",
                 cme__backend_name(backend));
        return CME_EUNSUPPORTED;
    }
    CmeEncoder *e = calloc(1, sizeof(*e));
    if (!e)
        return CME_ENOMEM;
    e->impl = impl;
    e->priv = calloc(1, impl->priv_size ? impl->priv_size : 1);
    if (!e->priv) {
        free(e);
        return CME_ENOMEM;
    }
    int r = impl->open(e->priv, s, err, errlen);
    if (r < 0) {
        impl->close(e->priv);
        free(e->priv);
        free(e);
        return r;
    }
    *out = e;
    return 0;
}

int cme__encoder_send(CmeEncoder *e, const CmeEncFrame *f)
{
    if (!f)
        e->eos_sent = 1;
    return e->impl->send_frame(e->priv, f);
}

int cme__encoder_receive(CmeEncoder *e, CmeEncPacket *pkt)
{
    return e->impl->receive_packet(e->priv, pkt);
}

void cme__encoder_close(CmeEncoder **pe)
{
    CmeEncoder *e = *pe;
    if (!e)
        return;
    e->impl->close(e->priv);
    free(e->priv);
    free(e);
    *pe = NULL;
}

int cme__encoder_sequence_header(CmeEncoder *e, uint8_t *out, size_t cap, size_t *size)
{
    if (!e->impl->sequence_header)
        return CME_EUNSUPPORTED;
    return e->impl->sequence_header(e->priv, out, cap, size);
}
