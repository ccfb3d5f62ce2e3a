/*
 * The fault-injection backend's fault list (test builds only, CME_HAVE_FAULT). The backend
 * itself is an entry of the encoder registry (`backend = "fault"`); this header exposes the
 * pieces its unit tests and the scheduler's tests need: the option parser, the sequence
 * header rewrite, and a reset of the process-wide "already fired" table.
 *
 * Options (the device's `options` string, comma-separated; N is a 1-based segment number,
 * that is chunk index + 1, or `all`; S is seconds, a decimal number):
 *   fail@N          send_frame fails (CME_EENCODER) at segment N's first frame, every time
 *   fail_once@N     the same, only the first time this device gets segment N
 *   receive_fail@N  receive_packet fails (CME_EENCODER) for segment N's first packet, once
 *   eos_fail        the end-of-stream flush (send_frame(NULL)) fails
 *   stall@N:S       after segment N's first frame was sent, receive_packet blocks S s, once
 *   garbage@N       segment N's first packet is replaced by bytes that are no AV1 OBUs, once
 *   seqhdr@N        segment N's first packet signals another seq_level_idx[0], once
 *   delay@S         the first send_frame of each instance sleeps S s
 *   gone@N          from segment N on, every call of every instance of this device fails
 *                   with CME_ENODEV (the device disappeared)
 *   id=NAME         no fault: makes two devices' option strings, and so their state, distinct
 */
#ifndef CME_ENC_FAULT_H
#define CME_ENC_FAULT_H

#include <stddef.h>
#include <stdint.h>

typedef enum CmeFaultKind {
    CME_FAULT_FAIL = 0,
    CME_FAULT_FAIL_ONCE,
    CME_FAULT_RECEIVE_FAIL,
    CME_FAULT_EOS_FAIL,
    CME_FAULT_STALL,
    CME_FAULT_GARBAGE,
    CME_FAULT_SEQHDR,
    CME_FAULT_DELAY,
    CME_FAULT_GONE,
} CmeFaultKind;

/* CmeFault.segment for `@all`; real segment numbers start at 1. */
#define CME_FAULT_ALL 0u
/* An option string is at most 127 characters, so at most 21 directives ("fail@1,"). */
#define CME_FAULT_MAX 32

typedef struct CmeFault {
    CmeFaultKind kind;
    uint32_t segment; /* 1-based, or CME_FAULT_ALL; 0 for eos_fail and delay */
    double seconds;   /* stall and delay; 0 otherwise */
} CmeFault;

typedef struct CmeFaultList {
    int count;
    CmeFault f[CME_FAULT_MAX];
} CmeFaultList;

/*
 * Parses a device's option string into *out. A pure function: no state, no allocation.
 * Returns 0, or CME_EINVAL with err naming the offending directive and what was expected:
 *   fault option "fial@3": expected fail@N, fail_once@N, ... (N a segment >= 1 or "all")
 * An empty or NULL string is an empty list (the backend then passes everything through).
 */
int cme__fault_parse(const char *options, CmeFaultList *out, char *err, size_t errlen);

/*
 * In the first sequence header OBU of buf (a temporal unit), flips the lowest bit of
 * seq_level_idx[0]; flipping bit 0 keeps the level on the same side of 7, so the presence of
 * seq_tier[0] and the header's length stay. Only headers with reduced_still_picture_header,
 * timing_info_present_flag and initial_display_delay_present_flag all 0 are rewritten (the
 * level is then 5 bits at bit 24 of the payload, AV1 spec 5.5.1); anything else is left
 * unchanged. Returns 0 and writes the old and new level, or a negative CME_E* code with the
 * reason in why.
 */
int cme__fault_flip_level(uint8_t *buf, size_t size, int *old_level, int *new_level, char *why,
                          size_t whylen);

/*
 * Forgets which once-faults have fired and which devices are gone, in the whole process.
 * The state is keyed by the option string so that "once" holds across the instances of a
 * device in one job; a process that runs several jobs (tests, the REPL) calls this between
 * them. Thread-safe.
 */
void cme__fault_reset(void);

#endif
