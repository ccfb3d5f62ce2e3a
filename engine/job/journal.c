#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmafeng/inspect.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/outpath.h"
#include "job/journal.h"

#define JOURNAL_MAGIC "cmafeng-journal 2"

static void journal_path(const CmeJob *job, char *out, size_t n)
{
    cme__outpath(out, n, job->output, NULL, CME_OUT_JOURNAL);
}

/* Everything that decides which frames land in which segment file, and how they are
 * encoded: a journal written for anything else must not be resumed. The source is named by
 * its resolved path (the same file reached through another path or a symlink is the same
 * job) and pinned by its size and modification time. */
static int fingerprint(const CmeJob *job, CmeBuf *b)
{
    struct stat st;
    if (stat(job->source, &st) < 0)
        return CME_EIO;
    char *real = realpath(job->source, NULL);
    if (!real)
        return CME_EIO;
    cme__buf_printf(b, "%s source=%s size=%lld mtime=%lld.%09ld k=%d fps=%d/%d", JOURNAL_MAGIC,
                    real, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                    (long)st.st_mtim.tv_nsec, job->chunk_frames, job->info.fps_num,
                    job->info.fps_den);
    free(real);
    if (job->nb_cuts > 0) {
        /* Another chunking is another job: its segments start elsewhere. */
        uint64_t h = 1469598103934665603ULL;
        for (int i = 0; i < job->nb_cuts; i++) {
            int64_t us = llround(job->cuts[i] * 1e6);
            for (int byte = 0; byte < 8; byte++) {
                h ^= (uint64_t)((us >> (8 * byte)) & 0xff);
                h *= 1099511628211ULL;
            }
        }
        cme__buf_printf(b, " cuts=%d:%016llx", job->nb_cuts, (unsigned long long)h);
    }
    for (int i = 0; i < job->nb_rungs; i++) {
        const CmeRungSettings *r = &job->rungs[i].set;
        cme__buf_printf(b, " rung=%s:%dx%d:crf%d:p%d:%dbit", r->name, r->width, r->height, r->crf,
                        r->preset, r->bit_depth == 10 ? 10 : 8);
    }
    /* The encoder settings that change the bitstream beyond the rung's own: the devices'
     * backends and forced levels. */
    for (int d = 0; d < job->set.nb_devices; d++) {
        const CmeDeviceSettings *dev = &job->set.devices[d];
        cme__buf_printf(b, " device=%s:level%d", dev->backend, dev->level);
    }
    cme__buf_printf(b, " invariant=%d\n", (int)job->set.invariant);
    return cme__buf_status(b);
}

static void segment_path(const CmeJob *job, const CmeRung *rung, uint32_t index, char *out,
                         size_t n)
{
    cme__outpath_segment(out, n, job->output, rung->set.name, index + 1, "m4s");
}

/* Reads a file back and checksums it; 0, or CME_EIO when it cannot be read or its size is
 * not the expected one (bytes: UINT64_MAX to accept any). */
static int checksum_file(const char *path, uint64_t bytes, uint64_t *sum)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CME_EIO;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (bytes != UINT64_MAX && (uint64_t)st.st_size != bytes)) {
        close(fd);
        return CME_EIO;
    }
    uint64_t h = CME_CHECKSUM64_INIT, total = 0;
    unsigned char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return CME_EIO;
        }
        if (n == 0)
            break;
        h = cme__checksum64(h, buf, (size_t)n);
        total += (uint64_t)n;
    }
    close(fd);
    if (bytes != UINT64_MAX && total != bytes)
        return CME_EIO;
    *sum = h;
    return 0;
}

int cme__journal_begin(CmeJob *job, char *err, size_t errlen)
{
    CmeBuf b = { 0 };
    char path[2100];
    journal_path(job, path, sizeof(path));
    int r = fingerprint(job, &b);
    if (r == 0)
        r = cme__file_write_atomic(path, b.data, b.size, err, errlen);
    else
        snprintf(err, errlen, "%s: cannot fingerprint the source", job->source);
    cme__buf_free(&b);
    return r;
}

void cme__journal_append(CmeJob *job, const CmeRung *rung, uint32_t index,
                         const CmeSegmentEntry *seg)
{
    /* The checksum is taken from the file as it lies on disk (already synced and renamed by
     * the atomic writer), so a resume compares against what was really written. The journal
     * only lets a later --resume skip work: when any step here fails the segment is simply
     * not listed and a resume encodes it again. */
    char path[2200], line[320];
    segment_path(job, rung, index, path, sizeof(path));
    uint64_t sum;
    if (checksum_file(path, seg->bytes, &sum) < 0)
        return;
    int n = snprintf(line, sizeof(line),
                     "seg %s %" PRIu32 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %016" PRIx64 "\n",
                     rung->set.name, index, seg->start, seg->duration, seg->bytes, sum);
    journal_path(job, path, sizeof(path));
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return;
    /* One short O_APPEND write is atomic against the other workers' lines; the fdatasync
     * makes the line as durable as the segment it names. */
    if (write(fd, line, (size_t)n) == n)
        (void)fdatasync(fd);
    close(fd);
}

void cme__journal_remove(CmeJob *job)
{
    char path[2100];
    journal_path(job, path, sizeof(path));
    unlink(path);
}

/* The rung's invariant from its init.mp4 (av1C configOBUs). 0, or an error: the rung is
 * then encoded from scratch. */
static int load_invariant(CmeJob *job, CmeRung *rung)
{
    char path[2100], err[256];
    cme__outpath(path, sizeof(path), job->output, rung->set.name, CME_OUT_INIT);
    CmeInspect *in = NULL;
    int r = cme_inspect_file(path, &in, err, sizeof(err));
    if (r < 0)
        return r;
    CmeAv1Obu obu;
    CmeAv1SeqHdr seq;
    r = in->has_av1c ? cme_av1_find_seq_hdr(in->av1c.config_obus, in->av1c.config_obus_size, &obu,
                                            &seq, err, sizeof(err))
                     : CME_EBITSTREAM;
    if (r == 0)
        r = cme__rung_restore_invariant(rung, &seq, obu.data, obu.size);
    if (r == 0) {
        CmeEvent ev = { .type = CME_EVENT_INIT_WRITTEN,
                        .rung = rung->index,
                        .device = -1,
                        .timescale = CME_TIMESCALE,
                        .resumed = 1 };
        snprintf(ev.device_id, sizeof(ev.device_id), "journal");
        snprintf(ev.codecs, sizeof(ev.codecs), "%s", rung->codecs);
        cme__job_post(job, &ev);
    }
    cme_inspect_free(&in);
    return r;
}

/* Marks one journaled segment done if its file is still there, whole: same size and same
 * checksum as when it was written. Anything else is encoded again. */
static int resume_segment(CmeJob *job, CmeRung *rung, uint32_t index, const CmeSegmentEntry *seg,
                          uint64_t want_sum)
{
    char path[2200];
    segment_path(job, rung, index, path, sizeof(path));
    uint64_t sum;
    if (checksum_file(path, seg->bytes, &sum) < 0 || sum != want_sum)
        return 0;
    int kept = cme__rung_keep_segment(rung, index, seg);
    if (kept <= 0)
        return kept;
    atomic_fetch_add(&rung->segments_done, 1);
    CmeEvent ev = { .type = CME_EVENT_SEGMENT_DONE,
                    .rung = rung->index,
                    .index = index + 1,
                    .bytes = seg->bytes,
                    .start = seg->start,
                    .duration = seg->duration,
                    .timescale = CME_TIMESCALE,
                    .device = -1,
                    .attempts = 0,
                    .resumed = 1 };
    snprintf(ev.device_id, sizeof(ev.device_id), "journal");
    cme__job_post(job, &ev);
    return 0;
}

int cme__journal_resume(CmeJob *job, char *err, size_t errlen)
{
    char path[2100];
    journal_path(job, path, sizeof(path));
    unsigned char *data = NULL;
    size_t size = 0;
    if (cme__file_read_all(path, &data, &size, err, errlen) < 0) {
        snprintf(err, errlen, "--resume: %s: no journal of an earlier run to resume", path);
        return CME_EINVAL;
    }
    CmeBuf want = { 0 };
    int r = fingerprint(job, &want);
    char *text = (char *)data;
    char *nl = memchr(text, '\n', size);
    if (r == 0 &&
        (!nl || (size_t)(nl - text + 1) != want.size || memcmp(text, want.data, want.size) != 0)) {
        snprintf(err, errlen,
                 "--resume: %s was written for another job (source file, segment length, ladder or "
                 "devices differ); run with --overwrite instead of --resume to start over",
                 path);
        r = CME_EINVAL;
    }
    cme__buf_free(&want);
    if (r < 0) {
        free(data);
        return r;
    }
    int tried[CME_MAX_RUNGS] = { 0 };
    size_t pos = (size_t)(nl - text) + 1;
    while (r == 0 && pos < size) {
        char *end = memchr(text + pos, '\n', size - pos);
        if (!end)
            break; /* a line cut short by a kill: ignore it */
        *end = '\0';
        char name[64];
        uint32_t index;
        CmeSegmentEntry seg;
        uint64_t sum;
        if (sscanf(text + pos, "seg %63s %" SCNu32 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNx64,
                   name, &index, &seg.start, &seg.duration, &seg.bytes, &sum) == 6) {
            for (int i = 0; i < job->nb_rungs; i++) {
                CmeRung *rung = &job->rungs[i];
                if (strcmp(rung->set.name, name) != 0)
                    continue;
                if (!tried[i]) {
                    tried[i] = load_invariant(job, rung) == 0 ? 1 : -1;
                }
                if (tried[i] > 0)
                    r = resume_segment(job, rung, index, &seg, sum);
            }
        }
        pos = (size_t)(end - text) + 1;
    }
    free(data);
    if (r < 0)
        snprintf(err, errlen, "--resume: %s: %s", path, cme_strerror(r));
    return r;
}
