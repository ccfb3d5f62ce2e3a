/*
 * cmafeng.core.engine: the Engine userdata ("cmafeng.Engine"). Bad arguments raise;
 * expected runtime failures (unreadable source, failed job) return nil, message, code.
 */
#include <stdio.h>
#include <string.h>

#include "cmafeng/engine.h"
#include "core/limits.h"
#include "lua/bindings.h"

#define ENGINE_MT "cmafeng.Engine"

typedef struct LEngine {
    CmeEngine *e;
} LEngine;

static LEngine *check_engine(lua_State *L)
{
    LEngine *le = luaL_checkudata(L, 1, ENGINE_MT);
    if (!le->e)
        luaL_error(L, "engine is closed");
    return le;
}

static int push_fail(lua_State *L, const char *msg, int code)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, cme_err_name(code));
    return 3;
}

/* Field readers for the normalized job table (already validated by cmafeng.recipe;
 * these raise with the field path on anything that slipped through). */
static lua_Number num_field(lua_State *L, int t, const char *path, const char *k, lua_Number def)
{
    lua_getfield(L, t, k);
    lua_Number v = def;
    if (!lua_isnil(L, -1)) {
        if (!lua_isnumber(L, -1))
            luaL_error(L, "%s%s: expected a number, got %s", path, k, luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

static void str_field(lua_State *L, int t, const char *path, const char *k, char *out, size_t n,
                      const char *def)
{
    lua_getfield(L, t, k);
    const char *v = def;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s%s: expected a string, got %s", path, k, luaL_typename(L, -1));
        v = lua_tostring(L, -1);
    }
    if (v && strlen(v) >= n)
        luaL_error(L, "%s%s: longer than %d bytes", path, k, (int)n - 1);
    snprintf(out, n, "%s", v ? v : "");
    lua_pop(L, 1);
}

/* video.mastering_display ({red = {x, y}, green, blue, white_point, min_luminance,
 * max_luminance}, the shape cmafeng.probe returns) and video.content_light_level
 * ({max_cll, max_fall}) into h; absent: none. The video table is at index v. */
static void hdr_fields(lua_State *L, int v, CmeHdrMetadata *h)
{
    lua_getfield(L, v, "mastering_display");
    if (lua_istable(L, -1)) {
        int m = lua_gettop(L);
        static const char *const names[4] = { "red", "green", "blue", "white_point" };
        for (int i = 0; i < 4; i++) {
            double *xy = i < 3 ? h->primaries[i] : h->white_point;
            lua_getfield(L, m, names[i]);
            // stack: ..., md, {x, y}
            if (!lua_istable(L, -1))
                luaL_error(L, "video.mastering_display.%s: expected {x, y}", names[i]);
            for (int j = 0; j < 2; j++) {
                lua_rawgeti(L, -1, j + 1);
                if (!lua_isnumber(L, -1))
                    luaL_error(L, "video.mastering_display.%s[%d]: expected a number", names[i],
                               j + 1);
                xy[j] = lua_tonumber(L, -1);
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        h->min_luminance = num_field(L, m, "video.mastering_display.", "min_luminance", 0);
        h->max_luminance = num_field(L, m, "video.mastering_display.", "max_luminance", 0);
        h->has_mastering = 1;
    }
    lua_pop(L, 1);
    lua_getfield(L, v, "content_light_level");
    if (lua_istable(L, -1)) {
        int c = lua_gettop(L);
        h->max_cll = (unsigned)num_field(L, c, "video.content_light_level.", "max_cll", 0);
        h->max_fall = (unsigned)num_field(L, c, "video.content_light_level.", "max_fall", 0);
        h->has_content_light = 1;
    }
    lua_pop(L, 1);
}

/* new(job) -> engine | nil, message, code. The source is opened here; nothing is
 * written until engine:start(). */
static int l_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    CmeJobSettings s;
    cme_job_default_settings(&s);
    char source[1024], output[1024], inv[16], streams[128] = "";
    str_field(L, 1, "", "source", source, sizeof(source), NULL);
    str_field(L, 1, "", "output", output, sizeof(output), "out");
    str_field(L, 1, "", "invariant", inv, sizeof(inv), "cmaf");
    s.source = source;
    s.output_dir = output;
    s.invariant = strcmp(inv, "strict") == 0 ? CME_INVARIANT_STRICT : CME_INVARIANT_CMAF;
    s.segment_seconds = num_field(L, 1, "", "segment_seconds", s.segment_seconds);
    s.workers = (int)num_field(L, 1, "", "workers", s.workers);
    s.threads_per_worker = (int)num_field(L, 1, "", "threads_per_worker", s.threads_per_worker);
    s.queue_depth = (int)num_field(L, 1, "", "queue_depth", s.queue_depth);
    s.frame_memory_mb = (int)num_field(L, 1, "", "frame_memory_mb", s.frame_memory_mb);
    s.stall_seconds = num_field(L, 1, "", "stall_seconds", s.stall_seconds);
    s.max_attempts = (int)num_field(L, 1, "", "max_attempts", s.max_attempts);

    lua_getfield(L, 1, "video");
    if (!lua_istable(L, -1))
        luaL_error(L, "video: expected a table");
    lua_getfield(L, -1, "ladder");
    if (!lua_istable(L, -1))
        luaL_error(L, "video.ladder: expected an array of rungs");
    int t = lua_gettop(L);
    // stack: job, video, ladder
    s.nb_rungs = (int)lua_objlen(L, t);
    if (s.nb_rungs > CME_MAX_RUNGS)
        luaL_error(L, "video.ladder: at most %d rungs", CME_MAX_RUNGS);
    for (int i = 0; i < s.nb_rungs; i++) {
        char path[48];
        snprintf(path, sizeof(path), "video.ladder[%d].", i + 1);
        lua_rawgeti(L, t, i + 1);
        int rt = lua_gettop(L);
        CmeRungSettings *r = &s.rungs[i];
        r->width = (int)num_field(L, rt, path, "width", 0);
        r->height = (int)num_field(L, rt, path, "height", 0);
        r->crf = (int)num_field(L, rt, path, "crf", 35);
        r->preset = (int)num_field(L, rt, path, "preset", 10);
        r->bit_depth = (int)num_field(L, rt, path, "bit_depth", 8);
        r->instances = (int)num_field(L, rt, path, "instances", 0);
        r->max_bitrate = (int64_t)num_field(L, rt, path, "max_bitrate", 0);
        r->buffer_size = (int64_t)num_field(L, rt, path, "buffer_size", 0);
        char def[32];
        snprintf(def, sizeof(def), "%dp", r->height);
        str_field(L, rt, path, "name", r->name, sizeof(r->name), def);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    // stack: job, video
    hdr_fields(L, lua_gettop(L), &s.hdr);
    double cuts[CME_LIMIT_MAX_CUTS];
    lua_getfield(L, -1, "cuts");
    if (lua_istable(L, -1)) {
        int ct = lua_gettop(L);
        int n = (int)lua_objlen(L, ct);
        if (n > CME_LIMIT_MAX_CUTS)
            luaL_error(L, "video.cuts: at most %d cuts", CME_LIMIT_MAX_CUTS);
        for (int i = 0; i < n; i++) {
            lua_rawgeti(L, ct, i + 1);
            if (!lua_isnumber(L, -1))
                luaL_error(L, "video.cuts[%d]: expected a number of seconds", i + 1);
            cuts[i] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        s.cuts = cuts;
        s.nb_cuts = n;
    }
    lua_pop(L, 2);

    char mode[8];
    str_field(L, 1, "", "output_mode", mode, sizeof(mode), "cmaf");
    s.mp4_files = !strcmp(mode, "both");
    lua_getfield(L, 1, "dash_ondemand");
    s.dash_ondemand = lua_toboolean(L, -1);
    lua_pop(L, 1);

    lua_getfield(L, 1, "resume");
    s.resume = lua_toboolean(L, -1);
    lua_pop(L, 1);

    lua_getfield(L, 1, "audio");
    if (lua_istable(L, -1)) {
        int at = lua_gettop(L);
        lua_getfield(L, at, "enabled");
        s.audio = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
        lua_pop(L, 1);
        s.audio_bitrate = (int)num_field(L, at, "audio.", "bitrate", s.audio_bitrate);
        s.audio_channels = (int)num_field(L, at, "audio.", "channels", s.audio_channels);
        s.audio_sample_rate = (int)num_field(L, at, "audio.", "sample_rate", s.audio_sample_rate);
        char codec[8];
        str_field(L, at, "audio.", "codec", codec, sizeof(codec), "aac");
        s.audio_codec = !strcmp(codec, "opus");
        str_field(L, at, "audio.", "streams", streams, sizeof(streams), "");
        s.audio_streams = streams;
    } else if (lua_isboolean(L, -1)) {
        s.audio = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);

    lua_getfield(L, 1, "devices");
    s.devices_auto = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "auto");
    if (lua_istable(L, -1)) {
        int dt = lua_gettop(L);
        s.nb_devices = (int)lua_objlen(L, dt);
        if (s.nb_devices > 16)
            luaL_error(L, "devices: at most 16 devices");
        for (int i = 0; i < s.nb_devices; i++) {
            char path[32];
            snprintf(path, sizeof(path), "devices[%d].", i + 1);
            lua_rawgeti(L, dt, i + 1);
            int d = lua_gettop(L);
            CmeDeviceSettings *ds = &s.devices[i];
            str_field(L, d, path, "backend", ds->backend, sizeof(ds->backend), "svt");
            str_field(L, d, path, "id", ds->id, sizeof(ds->id), "");
            ds->sessions = (int)num_field(L, d, path, "sessions", 1);
            ds->threads = (int)num_field(L, d, path, "threads", 0);
            ds->level = (int)num_field(L, d, path, "level", 0);
            str_field(L, d, path, "options", ds->options, sizeof(ds->options), "");
            ds->instances = (int)num_field(L, d, path, "instances", 0);
            lua_getfield(L, d, "optional");
            ds->optional = lua_toboolean(L, -1);
            lua_pop(L, 1);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);

    char err[1024] = { 0 };
    CmeEngine *e = NULL;
    int r = cme_engine_new(&e, &s, err, sizeof(err));
    if (r < 0)
        return push_fail(L, err, r);
    LEngine *le = lua_newuserdata(L, sizeof(*le));
    le->e = e;
    luaL_getmetatable(L, ENGINE_MT);
    lua_setmetatable(L, -2);
    return 1;
}

static int l_start(lua_State *L)
{
    LEngine *le = check_engine(L);
    char err[1024] = { 0 };
    int r = cme_engine_start(le->e, err, sizeof(err));
    if (r < 0)
        return push_fail(L, err, r);
    lua_pushboolean(L, 1);
    return 1;
}

static const char *event_name(CmeEventType t)
{
    switch (t) {
    case CME_EVENT_INIT_WRITTEN: return "init";
    case CME_EVENT_SEGMENT_DONE: return "segment";
    case CME_EVENT_CHUNK_FAILED: return "chunk_failed";
    case CME_EVENT_DEVICE_EXCLUDED: return "device_excluded";
    case CME_EVENT_WORKER_MOVED: return "worker";
    case CME_EVENT_FAILED: return "failed";
    case CME_EVENT_JOB_DONE: return "done";
    }
    return "unknown";
}

static void push_event(lua_State *L, const CmeEvent *ev, const CmeJobSettings *unused)
{
    lua_createtable(L, 0, 12);
    lua_pushstring(L, event_name(ev->type));
    lua_setfield(L, -2, "type");
    if (ev->rung >= 0) {
        lua_pushinteger(L, ev->rung + 1);
        lua_setfield(L, -2, "rung");
    }
    if (ev->is_audio) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "audio");
    }
    /* Audio and text renditions: which one ("audio" for the first) and its language. */
    if (ev->is_text) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "text");
    }
    if (ev->is_audio || ev->is_text) {
        lua_pushstring(L, ev->rendition[0] ? ev->rendition : "audio");
        lua_setfield(L, -2, "rendition");
    }
    if (ev->language[0]) {
        lua_pushstring(L, ev->language);
        lua_setfield(L, -2, "language");
    }
    if (ev->resumed) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "resumed");
    }
    if (ev->requeued) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "requeued");
    }
    lua_pushnumber(L, ev->wall_time);
    lua_setfield(L, -2, "time");
    if (ev->type == CME_EVENT_SEGMENT_DONE || ev->type == CME_EVENT_CHUNK_FAILED ||
        ev->type == CME_EVENT_DEVICE_EXCLUDED || ev->type == CME_EVENT_WORKER_MOVED) {
        if (ev->index > 0) {
            lua_pushinteger(L, ev->index);
            lua_setfield(L, -2, "index");
        }
        if (ev->attempts > 0) {
            lua_pushinteger(L, ev->attempts);
            lua_setfield(L, -2, "attempts");
            lua_pushinteger(L, ev->attempts);
            lua_setfield(L, -2, "attempt");
        }
    }
    if (!ev->is_audio && !ev->is_text &&
        (ev->type == CME_EVENT_SEGMENT_DONE || ev->type == CME_EVENT_CHUNK_FAILED ||
         ev->type == CME_EVENT_WORKER_MOVED)) {
        if (ev->worker >= 0) {
            lua_pushinteger(L, ev->worker + 1);
            lua_setfield(L, -2, "worker");
        }
        if (ev->instance >= 0) {
            lua_pushinteger(L, ev->instance + 1);
            lua_setfield(L, -2, "instance");
        }
    }
    if (ev->type == CME_EVENT_WORKER_MOVED && ev->from_rung >= 0) {
        lua_pushinteger(L, ev->from_rung + 1);
        lua_setfield(L, -2, "from_rung");
    }
    if (ev->type == CME_EVENT_CHUNK_FAILED || ev->type == CME_EVENT_DEVICE_EXCLUDED) {
        lua_pushstring(L, cme_fail_reason_name(ev->reason));
        lua_setfield(L, -2, "reason");
    }
    if (ev->type == CME_EVENT_SEGMENT_DONE) {
        lua_pushnumber(L, (lua_Number)ev->bytes);
        lua_setfield(L, -2, "bytes");
        lua_pushnumber(L, (lua_Number)ev->start / ev->timescale);
        lua_setfield(L, -2, "start");
        lua_pushnumber(L, (lua_Number)ev->duration / ev->timescale);
        lua_setfield(L, -2, "duration");
        lua_pushnumber(L, (lua_Number)ev->start);
        lua_setfield(L, -2, "start_ticks");
        lua_pushnumber(L, (lua_Number)ev->duration);
        lua_setfield(L, -2, "duration_ticks");
        lua_pushinteger(L, ev->timescale);
        lua_setfield(L, -2, "timescale");
        /* The renditions written in one pass after the video (audio_2, subs) count no
         * frames per segment. */
        if (!ev->rendition[0]) {
            lua_pushinteger(L, ev->frames);
            lua_setfield(L, -2, "frames");
        }
        lua_pushnumber(L, ev->encode_seconds);
        lua_setfield(L, -2, "encode_seconds");
    }
    if (ev->device_id[0]) {
        lua_pushstring(L, ev->device_id);
        lua_setfield(L, -2, "device");
    }
    if (ev->codecs[0]) {
        lua_pushstring(L, ev->codecs);
        lua_setfield(L, -2, "codecs");
    }
    if (ev->message[0]) {
        lua_pushstring(L, ev->message);
        lua_setfield(L, -2, "message");
    }
}

/* events(timeout_ms) -> array of events (empty on timeout) | nil once the job is done
 * and every event was delivered. Waits for the first event only; takes the rest that
 * are already queued, so the policy thread drains the queue in one call. */
static int l_events(lua_State *L)
{
    LEngine *le = check_engine(L);
    int timeout = (int)luaL_optinteger(L, 2, 200);
    CmeEvent ev;
    int r = cme_engine_next_event(le->e, &ev, timeout);
    if (r == CME_EOF) {
        lua_pushnil(L);
        return 1;
    }
    lua_newtable(L);
    int n = 0;
    while (r == 0) {
        push_event(L, &ev, NULL);
        lua_rawseti(L, -2, ++n);
        r = cme_engine_next_event(le->e, &ev, 0);
    }
    return 1;
}

static int l_stats(lua_State *L)
{
    LEngine *le = check_engine(L);
    CmeEngineStats st;
    cme_engine_stats(le->e, &st);
    lua_createtable(L, 0, 5);
    lua_pushnumber(L, st.elapsed);
    lua_setfield(L, -2, "elapsed");
    lua_pushnumber(L, (lua_Number)st.frames_decoded);
    lua_setfield(L, -2, "frames_decoded");
    lua_pushnumber(L, (lua_Number)st.decode_errors);
    lua_setfield(L, -2, "decode_errors");
    lua_pushnumber(L, (lua_Number)st.total_frames);
    lua_setfield(L, -2, "total_frames");
    lua_pushboolean(L, st.decode_done);
    lua_setfield(L, -2, "decode_done");
    lua_createtable(L, st.nb_rungs, 0);
    for (int i = 0; i < st.nb_rungs; i++) {
        lua_createtable(L, 0, 3);
        lua_pushnumber(L, (lua_Number)st.rungs[i].frames_in);
        lua_setfield(L, -2, "frames_in");
        lua_pushnumber(L, (lua_Number)st.rungs[i].frames_encoded);
        lua_setfield(L, -2, "frames_encoded");
        lua_pushinteger(L, st.rungs[i].segments_done);
        lua_setfield(L, -2, "segments_done");
        lua_pushnumber(L, st.rungs[i].seconds_done);
        lua_setfield(L, -2, "seconds_done");
        lua_pushinteger(L, st.rungs[i].instances);
        lua_setfield(L, -2, "instances");
        lua_pushinteger(L, st.rungs[i].busy);
        lua_setfield(L, -2, "busy");
        lua_createtable(L, 0, CME_CHUNK_NB_STATES);
        for (int k = 0; k < CME_CHUNK_NB_STATES; k++) {
            lua_pushinteger(L, st.rungs[i].chunks[k]);
            lua_setfield(L, -2, cme_chunk_state_name((CmeChunkState)k));
        }
        lua_setfield(L, -2, "chunks");
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "rungs");
    return 1;
}

/* Reads a device id field of a decision into a pool index (-1 when absent). */
static int decision_device(lua_State *L, LEngine *le, int t, const char *k)
{
    lua_getfield(L, t, k);
    int d = -1;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "decision.%s: expected a device id (a string), got %s", k,
                       luaL_typename(L, -1));
        d = cme_engine_device_index(le->e, lua_tostring(L, -1));
        if (d < 0)
            luaL_error(L, "decision.%s: \"%s\" is not a device of this job", k,
                       lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    return d;
}

/* decide(rung, index, {action = "retry"|"skip"|"abort", device=, avoid=, crf=, preset=,
 * why=}) -> true | nil, message, code. rung and index are 1-based, as in events. The
 * table has been validated by cmafeng.policy; a malformed one raises. */
static int l_decide(lua_State *L)
{
    LEngine *le = check_engine(L);
    int rung = (int)luaL_checkinteger(L, 2) - 1;
    lua_Integer index = luaL_checkinteger(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    if (index < 1)
        return luaL_argerror(L, 3, "expected a segment number >= 1");
    CmeDecision d = { .device = -1, .avoid = -1, .crf = -1, .preset = -1 };
    char action[16];
    str_field(L, 4, "decision.", "action", action, sizeof(action), NULL);
    if (!strcmp(action, "retry"))
        d.action = CME_DECIDE_RETRY;
    else if (!strcmp(action, "skip"))
        d.action = CME_DECIDE_SKIP;
    else if (!strcmp(action, "abort"))
        d.action = CME_DECIDE_ABORT;
    else
        return luaL_error(L, "decision.action: expected retry, skip or abort, got \"%s\"", action);
    d.device = decision_device(L, le, 4, "device");
    d.avoid = decision_device(L, le, 4, "avoid");
    d.crf = (int)num_field(L, 4, "decision.", "crf", -1);
    d.preset = (int)num_field(L, 4, "decision.", "preset", -1);
    str_field(L, 4, "decision.", "why", d.why, sizeof(d.why), "");
    char err[512] = { 0 };
    int r = cme_engine_decide(le->e, rung, (uint32_t)(index - 1), &d, err, sizeof(err));
    if (r < 0)
        return push_fail(L, err, r);
    lua_pushboolean(L, 1);
    return 1;
}

/* chunks(rung [, first [, max]]) -> array of chunk tables (1-based indices). */
static int l_chunks(lua_State *L)
{
    LEngine *le = check_engine(L);
    int rung = (int)luaL_checkinteger(L, 2) - 1;
    lua_Integer first = luaL_optinteger(L, 3, 1);
    int max = (int)luaL_optinteger(L, 4, 100000);
    if (first < 1 || max < 0)
        return luaL_argerror(L, 3, "expected a segment number >= 1");
    lua_newtable(L);
    CmeChunkInfo buf[64];
    char id[32];
    int n = 0;
    for (uint32_t at = (uint32_t)(first - 1); n < max;) {
        int want = max - n < 64 ? max - n : 64;
        int got = cme_engine_chunks(le->e, rung, at, buf, want);
        for (int i = 0; i < got; i++) {
            const CmeChunkInfo *c = &buf[i];
            lua_createtable(L, 0, 12);
            lua_pushinteger(L, c->rung + 1);
            lua_setfield(L, -2, "rung");
            lua_pushinteger(L, c->index + 1);
            lua_setfield(L, -2, "index");
            lua_pushstring(L, cme_chunk_state_name(c->state));
            lua_setfield(L, -2, "state");
            lua_pushinteger(L, c->attempt);
            lua_setfield(L, -2, "attempts");
            if (c->worker >= 0) {
                lua_pushinteger(L, c->worker + 1);
                lua_setfield(L, -2, "worker");
            }
            if (c->device >= 0) {
                lua_pushstring(L, cme_engine_device_id(le->e, c->device, id, sizeof(id)));
                lua_setfield(L, -2, "device");
            }
            if (c->instance >= 0) {
                lua_pushinteger(L, c->instance + 1);
                lua_setfield(L, -2, "instance");
            }
            if (c->reason != CME_FAIL_NONE) {
                lua_pushstring(L, cme_fail_reason_name(c->reason));
                lua_setfield(L, -2, "reason");
                lua_pushstring(L, c->message);
                lua_setfield(L, -2, "message");
            }
            lua_pushnumber(L, c->encode_seconds);
            lua_setfield(L, -2, "encode_seconds");
            lua_pushinteger(L, c->crf);
            lua_setfield(L, -2, "crf");
            lua_pushinteger(L, c->preset);
            lua_setfield(L, -2, "preset");
            lua_pushinteger(L, c->decisions);
            lua_setfield(L, -2, "decisions");
            lua_pushinteger(L, c->requeues);
            lua_setfield(L, -2, "requeues");
            if (c->resumed) {
                lua_pushboolean(L, 1);
                lua_setfield(L, -2, "resumed");
            }
            if (c->state == CME_CHUNK_DONE) {
                lua_pushnumber(L, (lua_Number)c->bytes);
                lua_setfield(L, -2, "bytes");
            }
            lua_rawseti(L, -2, ++n);
        }
        if (got < want)
            break;
        at += (uint32_t)got;
    }
    return 1;
}

/* devices() -> array of the job's devices as the process-wide pool has them. */
static int l_devices(lua_State *L)
{
    LEngine *le = check_engine(L);
    CmeDeviceInfo devs[CME_MAX_JOB_DEVICES + 1];
    int n = cme_engine_devices(le->e, devs, CME_MAX_JOB_DEVICES + 1);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 9);
        lua_pushstring(L, devs[i].id);
        lua_setfield(L, -2, "id");
        lua_pushstring(L, devs[i].backend);
        lua_setfield(L, -2, "backend");
        lua_pushinteger(L, devs[i].sessions);
        lua_setfield(L, -2, "sessions");
        lua_pushinteger(L, devs[i].in_use);
        lua_setfield(L, -2, "in_use");
        lua_pushinteger(L, devs[i].waiters);
        lua_setfield(L, -2, "waiters");
        lua_pushinteger(L, devs[i].max_width);
        lua_setfield(L, -2, "max_width");
        lua_pushinteger(L, devs[i].max_height);
        lua_setfield(L, -2, "max_height");
        lua_pushboolean(L, devs[i].ten_bit);
        lua_setfield(L, -2, "ten_bit");
        lua_pushboolean(L, devs[i].midjob_open);
        lua_setfield(L, -2, "midjob_open");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* prefer_rung(rung | nil): the rung idle workers help first (nil: furthest behind). */
static int l_prefer_rung(lua_State *L)
{
    LEngine *le = check_engine(L);
    int rung = lua_isnoneornil(L, 2) ? -1 : (int)luaL_checkinteger(L, 2) - 1;
    cme_engine_prefer_rung(le->e, rung);
    return 0;
}

/* pause(true|false): workers claim no new chunk while paused. */
static int l_pause(lua_State *L)
{
    LEngine *le = check_engine(L);
    cme_engine_pause(le->e, lua_isnone(L, 2) ? 1 : lua_toboolean(L, 2));
    return 0;
}

/* requeue(rung, index) -> true | nil, message, code: a finished segment (1-based rung and
 * segment numbers) is encoded again and replaced (cme_engine_requeue). */
static int l_requeue(lua_State *L)
{
    LEngine *le = check_engine(L);
    int rung = (int)luaL_checkinteger(L, 2) - 1;
    lua_Integer index = luaL_checkinteger(L, 3);
    if (index < 1 || index > UINT32_MAX)
        return luaL_argerror(L, 3, "expected a segment number >= 1");
    char err[1024] = { 0 };
    int r = cme_engine_requeue(le->e, rung, (uint32_t)(index - 1), err, sizeof(err));
    if (r < 0)
        return push_fail(L, err, r);
    lua_pushboolean(L, 1);
    return 1;
}

/* One integer setting of set{}: -1 when absent; a non-integer raises. */
static int setting(lua_State *L, int idx, const char *key)
{
    lua_getfield(L, idx, key); // stack: ..., value
    int v = -1;
    if (!lua_isnil(L, -1)) {
        lua_Number n = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0.5;
        if (lua_type(L, -1) != LUA_TNUMBER || n != (lua_Number)(int)n || n < 0)
            return luaL_error(L, "set: %s: expected an integer >= 0, got %s", key,
                              luaL_typename(L, -1));
        v = (int)n;
    }
    lua_pop(L, 1);
    return v;
}

/* set(rung, {crf=, preset=}) -> true | nil, message, code: the chunks of the rung claimed
 * from now on use these (cme_engine_set_rung). An unknown key or a non-integer raises. */
static int l_set(lua_State *L)
{
    LEngine *le = check_engine(L);
    int rung = (int)luaL_checkinteger(L, 2) - 1;
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 3)) { // stack: ..., key, value
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (!k || (strcmp(k, "crf") != 0 && strcmp(k, "preset") != 0))
            return luaL_error(L, "set: unknown setting %s (crf, preset)",
                              k ? k : luaL_typename(L, -2));
        lua_pop(L, 1);
    }
    int crf = setting(L, 3, "crf"), preset = setting(L, 3, "preset");
    if (crf < 0 && preset < 0)
        return luaL_argerror(L, 3, "expected crf or preset");
    char err[1024] = { 0 };
    int r = cme_engine_set_rung(le->e, rung, crf, preset, err, sizeof(err));
    if (r < 0)
        return push_fail(L, err, r);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_info(lua_State *L)
{
    LEngine *le = check_engine(L);
    const CmeSourceInfo *i = cme_engine_source_info(le->e);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, i->width);
    lua_setfield(L, -2, "width");
    lua_pushinteger(L, i->height);
    lua_setfield(L, -2, "height");
    lua_pushinteger(L, i->fps_num);
    lua_setfield(L, -2, "fps_num");
    lua_pushinteger(L, i->fps_den);
    lua_setfield(L, -2, "fps_den");
    lua_pushnumber(L, i->duration);
    lua_setfield(L, -2, "duration");
    lua_pushnumber(L, (lua_Number)i->nb_frames);
    lua_setfield(L, -2, "frames");
    lua_pushboolean(L, i->has_audio);
    lua_setfield(L, -2, "has_audio");
    return 1;
}

static int l_cancel(lua_State *L)
{
    LEngine *le = check_engine(L);
    cme_engine_cancel(le->e, luaL_optstring(L, 2, "canceled by the recipe"));
    return 0;
}

/* finish() -> true | nil, message, code. Joins the threads and writes the manifests. */
static int l_finish(lua_State *L)
{
    LEngine *le = check_engine(L);
    char err[1024] = { 0 };
    int r = cme_engine_finish(le->e, err, sizeof(err));
    if (r < 0)
        return push_fail(L, err, r);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_close(lua_State *L)
{
    LEngine *le = luaL_checkudata(L, 1, ENGINE_MT);
    cme_engine_free(&le->e); /* safe twice: sets le->e = NULL */
    return 0;
}

void cme__lua_open_engine(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "start", l_start },
        { "events", l_events },
        { "stats", l_stats },
        { "info", l_info },
        { "cancel", l_cancel },
        { "finish", l_finish },
        { "close", l_close },
        { "decide", l_decide },
        { "chunks", l_chunks },
        { "devices", l_devices },
        { "prefer_rung", l_prefer_rung },
        { "pause", l_pause },
        { "requeue", l_requeue },
        { "set", l_set },
        { NULL, NULL },
    };
    if (luaL_newmetatable(L, ENGINE_MT)) {
        lua_newtable(L);
        luaL_register(L, NULL, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "new");
}
