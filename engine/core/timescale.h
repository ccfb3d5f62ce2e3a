/*
 * The media timescale of every video track and of the engine's chunk timing.
 */
#ifndef CME_CORE_TIMESCALE_H
#define CME_CORE_TIMESCALE_H

/* 90 kHz represents the usual frame rates exactly (25, 30, 50, 60, 24000/1001 ...) and is
 * what HLS and DASH tooling expect. */
#define CME_TIMESCALE 90000

#endif
