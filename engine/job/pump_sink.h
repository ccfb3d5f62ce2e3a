/*
 * The job's side of the decode pump (pump_sink.c).
 */
#ifndef CME_JOB_PUMP_SINK_H
#define CME_JOB_PUMP_SINK_H

/* The pump thread's body: runs media/pump.c with the job as its sink. */
void *cme__job_pump_main(void *job);

#endif
