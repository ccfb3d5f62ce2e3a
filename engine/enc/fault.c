/*
 * The fault-injection backend (test builds only, CME_HAVE_FAULT): a real SVT-AV1 encoder
 * with faults injected on the chunks named in the device's `options`. Placeholder: passes
 * everything through to SVT-AV1 until the fault list parser lands.
 */
#include "cmafeng_config.h"

#if CME_HAVE_FAULT
#include "cmafeng/common.h"
#include "enc/encoder.h"

typedef struct FaultPriv {
    CmeEncoder *inner; /* the SVT-AV1 encoder doing the real work */
} FaultPriv;

static int fault_probe(char *msg, size_t msglen)
{
    (void)msg;
    (void)msglen;
    return 0;
}

static int fault_open(void *priv, const CmeEncoderSettings *s, char *err, size_t errlen)
{
    FaultPriv *p = priv;
    return cme__encoder_open(&p->inner, CME_BACKEND_SVT, s, err, errlen);
}

static int fault_send(void *priv, const CmeEncFrame *f)
{
    FaultPriv *p = priv;
    return cme__encoder_send(p->inner, f);
}

static int fault_receive(void *priv, CmeEncPacket *pkt)
{
    FaultPriv *p = priv;
    return cme__encoder_receive(p->inner, pkt);
}

static void fault_close(void *priv)
{
    FaultPriv *p = priv;
    cme__encoder_close(&p->inner);
}

static int fault_sequence_header(void *priv, uint8_t *out, size_t cap, size_t *size)
{
    FaultPriv *p = priv;
    return cme__encoder_sequence_header(p->inner, out, cap, size);
}

const CmeEncoderImpl cme__encoder_fault = {
    .name = "fault",
    .backend = CME_BACKEND_FAULT,
    .priv_size = sizeof(FaultPriv),
    .probe = fault_probe,
    .open = fault_open,
    .send_frame = fault_send,
    .receive_packet = fault_receive,
    .close = fault_close,
    .sequence_header = fault_sequence_header,
};
#endif
