/*
 * The run journal (OUT/.cmafeng-journal) behind `cmafeng run --resume`. A header line
 * fingerprints the job (the source's resolved path, size and mtime, chunking, every rung's
 * and device's encoder settings); each written segment appends one line (size and an FNV-1a
 * 64 checksum of the file read back) once its file is synced and renamed into place. A
 * resumed job keeps the segments the journal lists whose files are still there with the
 * same size and checksum, takes the rung's
 * codec invariant from its init.mp4, and encodes only the rest. The journal is removed
 * when the job succeeds.
 */
#ifndef CME_JOB_JOURNAL_H
#define CME_JOB_JOURNAL_H

#include "sched/job_state.h"

/* Starts a fresh journal (atomically replacing any old one). Policy thread, at start. */
int cme__journal_begin(CmeJob *job, char *err, size_t errlen);
/* Loads the journal of an earlier run of the same job: marks its segments done, posts a
 * SEGMENT_DONE event (resumed) for each, then continues appending to it. CME_EINVAL when
 * the journal belongs to another job. Policy thread, at start, before any engine thread. */
int cme__journal_resume(CmeJob *job, char *err, size_t errlen);
/* Records a written segment. Any worker thread; a short O_APPEND write is atomic. */
void cme__journal_append(CmeJob *job, const CmeRung *rung, uint32_t index,
                         const CmeSegmentEntry *seg);
/* The job succeeded: nothing is left to resume. */
void cme__journal_remove(CmeJob *job);

#endif
