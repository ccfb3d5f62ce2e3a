/*
 * HLS playlists (RFC 8216): the media playlist of one rendition and the multivariant
 * (master) playlist. Both are VOD playlists written once the durations are known. Numbers
 * are formatted with integer arithmetic (see mux/manifest.h) so the output is exact and
 * independent of the locale. An audio rendition is an alternative rendition in the group
 * "audio" that every video variant references.
 */
#include <inttypes.h>
#include <string.h>

#include "cmafeng/mux.h"
#include "core/buf.h"
#include "core/outpath.h"
#include "mux/manifest.h"

/*
 * EXT-X-VERSION 7 covers every tag used: EXT-X-MAP in a playlist without
 * EXT-X-I-FRAMES-ONLY needs version 6 and decimal EXTINF durations need 3 (RFC 8216 7);
 * 7 is what fMP4 packagers write, and no version 7 feature is misused by it.
 */
#define HLS_VERSION 7

/* The one audio group; a single group needs no more descriptive ID. */
#define AUDIO_GROUP "audio"
#define TEXT_GROUP "subs"

int cme_hls_write_media(CmeBuf *out, const CmeRendition *r)
{
    if (!out)
        return CME_EINVAL;
    int err = cme__rendition_check(r);
    if (err < 0)
        return err;

    /*
     * RFC 8216 4.3.3.1: every EXTINF duration, rounded to the nearest integer, must be <=
     * EXT-X-TARGETDURATION. The check is made on the duration as written (microseconds,
     * the 6 decimals of the EXTINF), so a validator rounding the printed value agrees;
     * the target is at least 1 since a 0 target duration is meaningless to players.
     */
    uint64_t target = 1;
    for (size_t i = 0; i < r->nb_segments; i++) {
        uint64_t us = cme__scale_round(r->segments[i].duration, r->timescale, 1000000);
        uint64_t rounded = (us + 500000) / 1000000;
        if (rounded > target)
            target = rounded;
    }

    size_t start = out->size;
    cme__buf_printf(out, "#EXTM3U\n#EXT-X-VERSION:%d\n", HLS_VERSION);
    cme__buf_printf(out, "#EXT-X-TARGETDURATION:%" PRIu64 "\n", target);
    /* RFC 8216 4.3.3.2: the media sequence number of the first segment. It follows the
     * file numbering, so segment N of the rendition is seg_N and has sequence number N. */
    cme__buf_printf(out, "#EXT-X-MEDIA-SEQUENCE:%" PRIu32 "\n", r->start_number);
    /* RFC 8216 4.3.3.5: the playlist is complete and will not change. */
    cme__buf_printf(out, "#EXT-X-PLAYLIST-TYPE:VOD\n");
    /* RFC 8216 4.3.5.1: every segment starts with a key frame carrying the sequence
     * header (DESIGN.md 3, CMAF), so each decodes without the previous one. */
    cme__buf_printf(out, "#EXT-X-INDEPENDENT-SEGMENTS\n");
    /* RFC 8216 4.3.2.5: the CMAF header needed to parse every segment; WebVTT segments
     * (3.5) stand alone. */
    if (!r->is_text)
        cme__buf_printf(out, "#EXT-X-MAP:URI=\"" CME_OUT_INIT "\"\n");
    for (size_t i = 0; i < r->nb_segments; i++) {
        uint64_t us = cme__scale_round(r->segments[i].duration, r->timescale, 1000000);
        /* RFC 8216 4.3.2.1: "#EXTINF:<duration>,[<title>]", the comma is required. */
        cme__buf_printf(out, "#EXTINF:%" PRIu64 ".%06" PRIu64 ",\n" CME_OUT_SEGMENT_FMT "\n",
                        us / 1000000, us % 1000000, (uint32_t)(r->start_number + i),
                        r->is_text ? "vtt" : "m4s");
    }
    /* RFC 8216 4.3.3.4: no more segments will be added. */
    cme__buf_printf(out, "#EXT-X-ENDLIST\n");

    err = cme__buf_status(out);
    if (err < 0 && out->size > start)
        out->size = start;
    return err;
}

int cme_hls_write_master(CmeBuf *out, const CmeRendition *r, size_t nb)
{
    if (!out)
        return CME_EINVAL;
    int err = cme__renditions_check(r, nb);
    if (err < 0)
        return err;
    /* RFC 8216 4.3.4.2: BANDWIDTH is required and is a positive peak rate. */
    size_t nb_video = 0;
    for (size_t i = 0; i < nb; i++) {
        if (r[i].peak_bandwidth == 0)
            return CME_EINVAL;
        nb_video += !r[i].is_audio && !r[i].is_text;
    }
    /* Audio is an alternative rendition of the variants; without a variant there is
     * nothing to play it with. */
    if (nb_video == 0)
        return CME_EINVAL;
    const CmeRendition *audio = cme__audio_rendition(r, nb);
    const CmeRendition *def = cme__default_audio(r, nb);
    /* The variant carries whichever audio rendition the player picks: the largest rates. */
    uint64_t audio_peak = 0, audio_avg = 0, text_peak = 0, text_avg = 0;
    int audio_avg_known = 1, has_text = 0;
    for (size_t i = 0; i < nb; i++) {
        if (r[i].is_text) {
            has_text = 1;
            if (r[i].peak_bandwidth > text_peak)
                text_peak = r[i].peak_bandwidth;
            if (r[i].avg_bandwidth > text_avg)
                text_avg = r[i].avg_bandwidth;
        }
        if (!r[i].is_audio)
            continue;
        if (r[i].peak_bandwidth > audio_peak)
            audio_peak = r[i].peak_bandwidth;
        if (r[i].avg_bandwidth > audio_avg)
            audio_avg = r[i].avg_bandwidth;
        audio_avg_known &= r[i].avg_bandwidth != 0;
    }

    size_t start = out->size;
    cme__buf_printf(out, "#EXTM3U\n#EXT-X-VERSION:%d\n", HLS_VERSION);
    /* RFC 8216 4.3.5.1: applies to every media playlist listed here. */
    cme__buf_printf(out, "#EXT-X-INDEPENDENT-SEGMENTS\n");
    for (size_t i = 0; i < nb; i++) {
        const CmeRendition *a = &r[i];
        if (!a->is_audio)
            continue;
        /* RFC 8216 4.3.4.1: one member of group "audio" per audio rendition. NAME is
         * required, human-readable and unique in the group (the label, else the
         * language, else the rendition name); LANGUAGE is written only when known.
         * DEFAULT=YES on one member only; AUTOSELECT=YES on every member (required with
         * DEFAULT=YES, and it lets a player choose by the user's language). CHANNELS is
         * the count of audio channels (4.3.4.1, first parameter). */
        cme__buf_printf(out, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"" AUDIO_GROUP "\",NAME=\"%s\"",
                        cme__audio_label(r, nb, i));
        if (a->language)
            cme__buf_printf(out, ",LANGUAGE=\"%s\"", a->language);
        cme__buf_printf(out,
                        ",DEFAULT=%s,AUTOSELECT=YES,CHANNELS=\"%" PRIu32
                        "\",URI=\"%s/" CME_OUT_MEDIA_PLAYLIST "\"\n",
                        a == def ? "YES" : "NO", a->channels, a->name);
    }
    for (size_t i = 0; i < nb; i++) {
        const CmeRendition *t = &r[i];
        if (!t->is_text)
            continue;
        /* RFC 8216 4.3.4.1: one member of group "subs" per text rendition; none is
         * DEFAULT (subtitles stay off until asked for), every one AUTOSELECT (a player may
         * turn on the user's language), FORCED=NO. */
        cme__buf_printf(out, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"" TEXT_GROUP "\",NAME=\"%s\"",
                        cme__audio_label(r, nb, i));
        if (t->language)
            cme__buf_printf(out, ",LANGUAGE=\"%s\"", t->language);
        cme__buf_printf(
            out, ",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI=\"%s/" CME_OUT_MEDIA_PLAYLIST "\"\n",
            t->name);
    }
    for (size_t i = 0; i < nb; i++) {
        const CmeRendition *x = &r[i];
        if (x->is_audio || x->is_text)
            continue;
        /* RFC 8216 4.3.4.2: BANDWIDTH and AVERAGE-BANDWIDTH cover every rendition played
         * with the variant, so the audio rendition's rates are added; CODECS lists the
         * formats of every media type in the variant, audio included. */
        uint64_t peak = x->peak_bandwidth, avg = x->avg_bandwidth;
        if (audio) {
            peak += audio_peak;
            /* 0 means unknown: an unknown part makes the sum unknown. */
            avg = avg && audio_avg_known ? avg + audio_avg : 0;
        }
        peak += text_peak;
        avg = avg ? avg + text_avg : 0;
        /* RFC 8216 4.3.4.2: FRAME-RATE is rounded to three decimal places. */
        uint64_t fps_milli = cme__scale_round(x->fps_num, x->fps_den, 1000);
        cme__buf_printf(out, "#EXT-X-STREAM-INF:BANDWIDTH=%" PRIu64, peak);
        /* AVERAGE-BANDWIDTH is optional; 0 means the caller does not know it. */
        if (avg)
            cme__buf_printf(out, ",AVERAGE-BANDWIDTH=%" PRIu64, avg);
        cme__buf_printf(out, ",CODECS=\"%s", x->codecs);
        /* Every format of every rendition in the group, each once (4.3.4.2). */
        for (size_t j = 0; j < nb; j++) {
            int seen = !r[j].is_audio;
            for (size_t k = 0; k < j && !seen; k++)
                seen = r[k].is_audio && !strcmp(r[k].codecs, r[j].codecs);
            if (!seen)
                cme__buf_printf(out, ",%s", r[j].codecs);
        }
        cme__buf_printf(out,
                        "\",RESOLUTION=%" PRIu32 "x%" PRIu32 ",FRAME-RATE=%" PRIu64 ".%03" PRIu64,
                        x->width, x->height, fps_milli / 1000, fps_milli % 1000);
        /* RFC 8216bis 4.4.6.2: VIDEO-RANGE is PQ or HLG for those transfer functions and
         * SDR (the default, left out) otherwise; read from the bitstream's codecs string. */
        const char *range = cme__codecs_video_range(x->codecs);
        if (range)
            cme__buf_printf(out, ",VIDEO-RANGE=%s", range);
        /* RFC 8216 4.3.4.2: AUDIO names the EXT-X-MEDIA group of the variant's audio. */
        if (audio)
            cme__buf_printf(out, ",AUDIO=\"" AUDIO_GROUP "\"");
        if (has_text)
            cme__buf_printf(out, ",SUBTITLES=\"" TEXT_GROUP "\"");
        cme__buf_printf(out, "\n%s/" CME_OUT_MEDIA_PLAYLIST "\n", x->name);
    }

    err = cme__buf_status(out);
    if (err < 0 && out->size > start)
        out->size = start;
    return err;
}
