/*
 * Every name cmafeng gives a file in its output directory, in one place (DESIGN.md section
 * 1): the writers (workers, the audio and subtitle tracks, the single-file MP4s, the
 * journal, the manifests at the end) build paths with these functions, and the playlists
 * reference files by the same names, so a renamed file cannot go out of step with the
 * playlist that points at it.
 *
 *     <out>/master.m3u8  <out>/manifest.mpd  <out>/report.json  <out>/.cmafeng-journal
 *     <out>/<rendition>/init.mp4  <out>/<rendition>/seg_00001.m4s ... <out>/<rendition>/index.m3u8
 *     <out>/<text rendition>/subtitles.vtt   (the whole track, the DASH sidecar)
 *     <out>/<rung>.mp4   (output.mode = "mp4")
 *     <out>/ondemand/<rendition>.mp4|.vtt  <out>/ondemand/manifest.mpd   (dash_ondemand)
 *
 * A rendition is a video rung (its recipe name), "audio" (the first audio track), an extra
 * audio track's or a subtitle track's name.
 */
#ifndef CME_CORE_OUTPATH_H
#define CME_CORE_OUTPATH_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define CME_OUT_INIT "init.mp4"
#define CME_OUT_MEDIA_PLAYLIST "index.m3u8"
#define CME_OUT_MASTER_PLAYLIST "master.m3u8"
#define CME_OUT_MPD "manifest.mpd"
#define CME_OUT_JOURNAL ".cmafeng-journal"
#define CME_OUT_AUDIO "audio" /* the first audio track's rendition */
#define CME_OUT_SUBTITLES "subtitles.vtt"
#define CME_OUT_ONDEMAND "ondemand"
/* Segment n (from 1, the HLS media sequence number and the DASH $Number$) of a rendition:
 * printf format with the extension as a string argument, and the DASH SegmentTemplate
 * spelling of the same name, escaped for use inside a printf format. */
#define CME_OUT_SEGMENT_FMT "seg_%05" PRIu32 ".%s"
#define CME_OUT_SEGMENT_DASH_FMT "seg_$Number%%05d$.m4s"

/* "<dir>/<rendition>/<file>", or "<dir>/<file>" when rendition is NULL. 0, or CME_EINVAL
 * when the path does not fit in n bytes (out then holds a truncated path for messages). */
int cme__outpath(char *out, size_t n, const char *dir, const char *rendition, const char *file);
/* Writes b atomically (core/file.h) as cme__outpath(dir, rendition, file) names it: 0, or a
 * negative CME_E* with err naming the path (too long, a buffer that ran out of memory, the
 * write's own failure). */
int cme__outfile_write(const char *dir, const char *rendition, const char *file, const CmeBuf *b,
                       char *err, size_t errlen);
/* "<dir>/<name>.<ext>": a file named for its rendition (<rung>.mp4, ondemand/<name>.vtt). */
int cme__outpath_named(char *out, size_t n, const char *dir, const char *name, const char *ext);
/* The file name of segment `number` (from 1) with extension ext ("m4s", "vtt"). */
int cme__outname_segment(char *out, size_t n, uint32_t number, const char *ext);
/* "<dir>/<rendition>/seg_<number>.<ext>". */
int cme__outpath_segment(char *out, size_t n, const char *dir, const char *rendition,
                         uint32_t number, const char *ext);

#endif
