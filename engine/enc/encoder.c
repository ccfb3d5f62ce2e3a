/* The encoder registry and the thin wrappers the worker calls. */
#include <stdio.h>
#include <stdlib.h>

#include "cmafeng/common.h"
#include "cmafeng_config.h"
#include "enc/encoder.h"

extern const CmeEncoderImpl cme__encoder_svtav1;
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

const CmeEncoderImpl *const cme__encoders[] = {
    &cme__encoder_svtav1,
#if CME_HAVE_NVENC
    &cme__encoder_nvenc,
#endif
#if CME_HAVE_ONEVPL
    &cme__encoder_onevpl,
#endif
#if CME_HAVE_VAAPI
    &cme__encoder_vaapi,
#endif
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

int cme__enc_unsupported_send(void *priv, const CmeEncFrame *frame)
{
    return CME_EUNSUPPORTED;
}

int cme__enc_unsupported_receive(void *priv, CmeEncPacket *pkt)
{
    return CME_EUNSUPPORTED;
}

void cme__enc_unsupported_close(void *priv)
{
}

int cme__encoder_sequence_header(CmeEncoder *e, uint8_t *out, size_t cap, size_t *size)
{
    if (!e->impl->sequence_header)
        return CME_EUNSUPPORTED;
    return e->impl->sequence_header(e->priv, out, cap, size);
}
