/*
 * cmafeng.core.media_probe(path) -> table | nil, message, code
 * cmafeng.core.scene_scores(path [, width]) -> { times =, scores =, fps =, duration = }
 *                                             | nil, message, code
 * cmafeng.core.probe_encodes(path, opts) -> per-title measurements (see l_probe_encodes)
 *
 * The tables mirror cmafeng/probe.h; lua/cmafeng/probe.lua documents them for recipes
 * (cmafeng.probe) and prints them (`cmafeng probe`). Absent means unknown: no `mastering`
 * without mastering display metadata, no `language` on an untagged stream, no `video` in
 * an audio-only file.
 */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>

#include "cmafeng/probe.h"
#include "lua/bindings.h"

static void set_num(lua_State *L, const char *k, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (!v || !v[0])
        return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void push_xy(lua_State *L, const double xy[2])
{
    lua_createtable(L, 2, 0);
    lua_pushnumber(L, xy[0]);
    lua_rawseti(L, -2, 1);
    lua_pushnumber(L, xy[1]);
    lua_rawseti(L, -2, 2);
}

static void push_color(lua_State *L, const CmeProbeVideo *v)
{
    lua_createtable(L, 0, 7);
    set_str(L, "primaries", cme_probe_primaries_name(v->color_primaries));
    set_str(L, "transfer", cme_probe_transfer_name(v->color_transfer));
    set_str(L, "matrix", cme_probe_matrix_name(v->color_matrix));
    set_str(L, "range", v->range_known ? (v->full_range ? "full" : "limited") : "unknown");
    set_num(L, "primaries_id", v->color_primaries);
    set_num(L, "transfer_id", v->color_transfer);
    set_num(L, "matrix_id", v->color_matrix);
}

static void push_video(lua_State *L, const CmeProbeVideo *v)
{
    lua_createtable(L, 0, 32);
    set_num(L, "index", v->index);
    set_str(L, "codec", v->codec);
    set_str(L, "profile", v->profile);
    set_num(L, "width", v->width);
    set_num(L, "height", v->height);
    set_num(L, "sar_num", v->sar_num);
    set_num(L, "sar_den", v->sar_den);
    set_num(L, "display_width", v->display_width);
    set_num(L, "display_height", v->display_height);
    set_num(L, "rotation", v->rotation);
    set_bool(L, "hflip", v->hflip);
    set_num(L, "fps_num", v->fps_num);
    set_num(L, "fps_den", v->fps_den);
    set_num(L, "fps", (double)v->fps_num / v->fps_den);
    set_bool(L, "vfr", v->vfr);
    if (v->max_frame_duration > 0) {
        set_num(L, "min_frame_duration", v->min_frame_duration);
        set_num(L, "max_frame_duration", v->max_frame_duration);
    }
    if (v->duration >= 0)
        set_num(L, "duration", v->duration);
    if (v->frames >= 0) {
        set_num(L, "frames", (lua_Number)v->frames);
        set_bool(L, "frames_exact", v->frames_exact);
    }
    set_str(L, "pix_fmt", v->pix_fmt);
    set_num(L, "bit_depth", v->bit_depth);
    if (v->chroma_format)
        set_num(L, "chroma_format", v->chroma_format);
    push_color(L, v);
    // stack: info, video, color
    lua_setfield(L, -2, "color");
    set_str(L, "hdr", cme_probe_hdr_name(v->hdr));
    if (v->has_mastering) {
        const CmeProbeMastering *m = &v->mastering;
        lua_createtable(L, 0, 6);
        static const char *const names[3] = { "red", "green", "blue" };
        for (int i = 0; i < 3; i++) {
            push_xy(L, m->primaries[i]);
            lua_setfield(L, -2, names[i]);
        }
        push_xy(L, m->white_point);
        lua_setfield(L, -2, "white_point");
        set_num(L, "min_luminance", m->min_luminance);
        set_num(L, "max_luminance", m->max_luminance);
        lua_setfield(L, -2, "mastering_display");
    }
    if (v->has_content_light) {
        lua_createtable(L, 0, 2);
        set_num(L, "max_cll", v->max_cll);
        set_num(L, "max_fall", v->max_fall);
        lua_setfield(L, -2, "content_light_level");
    }
    if (v->has_mastering || v->has_content_light)
        set_str(L, "hdr_metadata_from", v->side_data_from_frame ? "frame" : "container");
}

static void push_audio(lua_State *L, const CmeProbeAudio *a)
{
    lua_createtable(L, 0, 8);
    set_num(L, "index", a->index);
    set_str(L, "codec", a->codec);
    set_num(L, "channels", a->channels);
    set_str(L, "layout", a->layout);
    set_num(L, "sample_rate", a->sample_rate);
    if (a->bit_rate > 0)
        set_num(L, "bit_rate", (lua_Number)a->bit_rate);
    set_str(L, "language", a->language);
    set_bool(L, "default", a->is_default);
}

static int l_media_probe(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    CmeProbe *p = lua_newuserdata(L, sizeof(*p)); /* collected with the stack: no leak on
                                                   * a Lua memory error below */
    char err[512] = { 0 };
    int r = cme_probe_file(path, p, err, sizeof(err));
    if (r < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushstring(L, cme_err_name(r));
        return 3;
    }
    lua_createtable(L, 0, 8);
    set_str(L, "path", path);
    set_str(L, "format", p->format);
    if (p->duration >= 0)
        set_num(L, "duration", p->duration);
    if (p->bit_rate > 0)
        set_num(L, "bit_rate", (lua_Number)p->bit_rate);
    if (p->has_video) {
        push_video(L, &p->video);
        lua_setfield(L, -2, "video");
    }
    lua_createtable(L, p->nb_audio, 0);
    for (int i = 0; i < p->nb_audio; i++) {
        push_audio(L, &p->audio[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "audio");
    lua_createtable(L, p->nb_subtitles, 0);
    for (int i = 0; i < p->nb_subtitles; i++) {
        lua_createtable(L, 0, 3);
        set_num(L, "index", p->subtitles[i].index);
        set_str(L, "codec", p->subtitles[i].codec);
        set_str(L, "language", p->subtitles[i].language);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "subtitles");
    return 1;
}

static int l_scene_scores(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int width = (int)luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, width >= 0 && width <= 4096, 2, "expected a width in 0..4096");
    CmeSceneScores s;
    char err[512] = { 0 };
    int r = cme_scene_scores(path, width, &s, err, sizeof(err));
    if (r < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushstring(L, cme_err_name(r));
        return 3;
    }
    int n = s.nb_frames < (1u << 30) ? (int)s.nb_frames : (1 << 30);
    lua_createtable(L, 0, 4);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, s.times[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "times");
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, s.scores[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "scores");
    set_num(L, "fps", s.fps);
    set_num(L, "duration", s.duration);
    cme_scene_scores_free(&s);
    return 1;
}

static int opt_int_field(lua_State *L, int t, const char *k, int def)
{
    lua_getfield(L, t, k);
    int v = lua_isnil(L, -1) ? def : (int)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    return v;
}

/* probe_encodes(path, { start =, frames =, ref_width =, ref_height =, preset =,
 *                       probes = { {width =, height =, crf =}, ... }
 *                       [, devices = { {id =, sessions =, threads =}, ... }, parallel =,
 *                          timeout = seconds] })
 *   -> { seconds =, probes = { {width, height, crf, bytes, frames, psnr, ssim,
 *                                encode_seconds}, ... } } | nil, message, code */
static int l_probe_encodes(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "start");
    double start = luaL_optnumber(L, -1, 0);
    lua_pop(L, 1);
    int frames = opt_int_field(L, 2, "frames", 24);
    int ref_w = opt_int_field(L, 2, "ref_width", 0);
    int ref_h = opt_int_field(L, 2, "ref_height", 0);
    int preset = opt_int_field(L, 2, "preset", 10);
    lua_getfield(L, 2, "probes");
    luaL_argcheck(L, lua_istable(L, -1), 2, "probes: expected a table");
    int n = (int)lua_objlen(L, -1);
    luaL_argcheck(L, n > 0 && n <= 1024, 2, "probes: expected 1..1024 entries");
    // stack: path, opts, probes
    CmeProbeEncode *pr = lua_newuserdata(L, (size_t)n * sizeof(*pr));
    memset(pr, 0, (size_t)n * sizeof(*pr));
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 3, i + 1);
        luaL_argcheck(L, lua_istable(L, -1), 2, "probes: expected {width =, height =, crf =}");
        pr[i].width = opt_int_field(L, lua_gettop(L), "width", 0);
        pr[i].height = opt_int_field(L, lua_gettop(L), "height", 0);
        pr[i].crf = opt_int_field(L, lua_gettop(L), "crf", 0);
        lua_pop(L, 1);
    }
    // stack: path, opts, probes, results (userdata: kept on the stack while C uses it)
    /* devices = { {id =, sessions =, threads =}, ... }, parallel =, timeout =: leased from
     * the process-wide pool (cme_probe_encodes_on); absent: one after another, unleased. */
    CmeProbeDevice devs[16];
    CmeProbeRunSettings run = { .devices = devs };
    lua_getfield(L, 2, "devices");
    int pooled = lua_istable(L, -1);
    if (pooled) {
        int dt = lua_gettop(L);
        run.nb_devices = (int)lua_objlen(L, dt);
        luaL_argcheck(L, run.nb_devices >= 1 && run.nb_devices <= 16, 2,
                      "devices: expected 1..16 entries");
        for (int i = 0; i < run.nb_devices; i++) {
            lua_rawgeti(L, dt, i + 1);
            luaL_argcheck(L, lua_istable(L, -1), 2, "devices: expected {id =, sessions =}");
            int d = lua_gettop(L);
            lua_getfield(L, d, "id");
            const char *id = lua_tostring(L, -1);
            luaL_argcheck(L, id && strlen(id) < sizeof(devs[i].id), 2,
                          "devices: expected an id of at most 31 bytes");
            snprintf(devs[i].id, sizeof(devs[i].id), "%s", id);
            lua_pop(L, 1);
            devs[i].sessions = opt_int_field(L, d, "sessions", 1);
            devs[i].threads = opt_int_field(L, d, "threads", 0);
            lua_pop(L, 1);
        }
        run.parallel = opt_int_field(L, 2, "parallel", 1);
        lua_getfield(L, 2, "timeout");
        run.timeout_ms = (int)(luaL_optnumber(L, -1, 600) * 1000);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    char err[512] = { 0 };
    double seconds = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = pooled ? cme_probe_encodes_on(path, start, frames, ref_w, ref_h, preset, pr, n, &run,
                                          &seconds, err, sizeof(err))
                   : cme_probe_encodes(path, start, frames, ref_w, ref_h, preset, pr, n, &seconds,
                                       err, sizeof(err));
    if (r < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushstring(L, cme_err_name(r));
        return 3;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    lua_createtable(L, 0, 3);
    set_num(L, "seconds", seconds);
    set_num(L, "wall_seconds", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 8);
        set_num(L, "width", pr[i].width);
        set_num(L, "height", pr[i].height);
        set_num(L, "crf", pr[i].crf);
        set_num(L, "bytes", (lua_Number)pr[i].bytes);
        set_num(L, "frames", pr[i].frames);
        set_num(L, "psnr", pr[i].psnr);
        set_num(L, "ssim", pr[i].ssim);
        set_num(L, "encode_seconds", pr[i].encode_seconds);
        if (pr[i].device[0])
            set_str(L, "device", pr[i].device);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "probes");
    return 1;
}

void cme__lua_open_probe(lua_State *L)
{
    // stack: core
    lua_pushcfunction(L, l_media_probe);
    lua_setfield(L, -2, "media_probe");
    lua_pushcfunction(L, l_scene_scores);
    lua_setfield(L, -2, "scene_scores");
    lua_pushcfunction(L, l_probe_encodes);
    lua_setfield(L, -2, "probe_encodes");
}
