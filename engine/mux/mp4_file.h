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

#include "cmafeng/mux.h"

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

/*
 * DASH on demand (ISO/IEC 23009-1 8.3): one fragmented file per track, its init segment
 * (ftyp + moov, byte for byte) then a sidx (ISO/IEC 14496-12 8.16.3: one media reference per
 * fragment, earliest_presentation_time, subsegment_duration, starts_with_SAP 1, SAP type 1)
 * then the media segments' moof + mdat pairs in order (their styp left out). Written to a
 * temporary name and renamed. *ix gets the init and index byte ranges for SegmentBase (its
 * url is left alone).
 */
int cme__ondemand_file(const char *out_path, const CmeStitchTrack *track, CmeDashIndex *ix,
                       char *err, size_t errlen);

/*
 * The job's use: "<out_dir>/ondemand/<name>.mp4" for every video and audio rendition of r
 * (from "<name>/init.mp4" + seg_%05u.m4s), "<out_dir>/ondemand/<name>.vtt" copied from a
 * text rendition's subtitles.vtt, and "<out_dir>/ondemand/manifest.mpd" in the on-demand
 * profile naming them. r are the renditions of the job's manifest.mpd, bandwidths filled.
 */
int cme__ondemand_write(const char *out_dir, const CmeRendition *r, size_t nb, char *err,
                        size_t errlen);

#endif /* CME_MUX_MP4_FILE_H */
