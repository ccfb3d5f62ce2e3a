/*
 * Single-file MP4 (DESIGN.md 3, the second output mode): the CMAF tracks a job wrote (an
 * init segment and its media segments per track) stitched into one progressive, fast-start
 * MP4: ftyp, then moov with classic sample tables (ISO/IEC 14496-12 8.6/8.7: stts, stss,
 * stsz, stsc, stco or co64 past 4 GiB), then one mdat whose chunks interleave the tracks
 * segment by segment. Sample entries (av1C, colr, esds, dOps, btrt) are carried over from
 * the init segments byte for byte, as is the audio priming edit (elst). The file is written
 * to a temporary name and renamed, so a reader never sees half of it.
 */
#ifndef CME_MUX_MP4_FILE_H
#define CME_MUX_MP4_FILE_H

#include <stddef.h>

typedef struct CmeStitchTrack {
    const char *init;            /* path of the track's init segment */
    const char *const *segments; /* paths of its media segments, in order */
    size_t nb_segments;
} CmeStitchTrack;

/*
 * Writes out_path from the tracks (the first one is the video, the others audio; track IDs
 * 1..n in that order). 0, or a negative CME_E* with err naming the file or box that failed.
 * force_co64 writes 64-bit chunk offsets whatever the size (tests).
 */
int cme__mp4_stitch(const char *out_path, const CmeStitchTrack *tracks, size_t nb_tracks,
                    int force_co64, char *err, size_t errlen);

/*
 * The job's use: "<out_dir>/<rung>.mp4" from "<rung>/init.mp4" + seg_00001.m4s..seg_N.m4s
 * and, when audio is not NULL, "<audio>/init.mp4" + its nb_audio segments.
 */
int cme__rung_mp4(const char *out_dir, const char *rung, size_t nb_segments, const char *audio,
                  size_t nb_audio, char *err, size_t errlen);

#endif /* CME_MUX_MP4_FILE_H */
