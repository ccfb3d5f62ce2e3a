/* cmafeng.core.devices(): what encoders this machine has (enc/discover.h), as Lua tables
 * for `cmafeng devices [--json]` and the REPL. Policy thread only. */
#include <stdlib.h>
#include <string.h>

#include "enc/discover.h"
#include "lua/bindings.h"
#include "sched/lease_pool.h"

/* Sessions an unlimited hardware device (VA-API, oneVPL: cap 0) gets under devices = "auto"
 * when the recipe keeps the default `workers`. */
#define AUTO_DEFAULT_WORKERS 2

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, int v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

static void push_pool_device(lua_State *L, const CmeDevice *v)
{
    lua_createtable(L, 0, 8);
    set_str(L, "id", v->id);
    set_str(L, "backend", cme__backend_name(v->backend));
    set_str(L, "path", v->path);
    set_int(L, "sessions", v->sessions);
    set_int(L, "in_use", v->in_use);
    set_int(L, "max_width", v->max_width);
    set_int(L, "max_height", v->max_height);
    set_bool(L, "ten_bit", v->ten_bit);
}

/* devices() -> { devices = { {id=, backend=, vendor=, name=, path=, sessions=, max_width=,
 *   max_height=, ten_bit=, av1_encode=, can_run=, status=}, ... },
 *   backends = { {backend=, built=, available=, status=}, ... },
 *   auto = { devices = { pool devices }, reason = why none (absent when some) },
 *   pool = { the process's lease pool now: {id=, backend=, path=, sessions=, in_use=, ...} } }
 * `auto` is what a recipe's devices = "auto" resolves to (discovered hardware devices with
 * their session caps; none: the CPU). */
static int l_devices(lua_State *L)
{
    CmeDiscovery *d = malloc(sizeof(*d));
    if (!d)
        return luaL_error(L, "out of memory");
    cme__devices_discover(d);
    lua_createtable(L, 0, 2);
    lua_createtable(L, d->nb_devices, 0);
    for (int i = 0; i < d->nb_devices; i++) {
        const CmeDeviceInfo *v = &d->devices[i];
        lua_createtable(L, 0, 12);
        set_str(L, "id", v->id);
        set_str(L, "backend", v->backend);
        set_str(L, "vendor", v->vendor);
        set_str(L, "name", v->name);
        set_str(L, "path", v->path);
        set_int(L, "sessions", v->sessions);
        set_int(L, "max_width", v->max_width);
        set_int(L, "max_height", v->max_height);
        set_bool(L, "ten_bit", v->ten_bit);
        set_bool(L, "av1_encode", v->av1_encode);
        set_bool(L, "can_run", v->can_run);
        set_str(L, "status", v->status);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "devices");
    // stack: result
    lua_createtable(L, d->nb_notes, 0);
    for (int i = 0; i < d->nb_notes; i++) {
        const CmeBackendNote *n = &d->notes[i];
        lua_createtable(L, 0, 4);
        set_str(L, "backend", n->backend);
        set_bool(L, "built", n->built);
        set_bool(L, "available", n->available);
        set_str(L, "status", n->status);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "backends");
    // stack: result
    CmeDevice found[CME_MAX_DEVICES];
    char why[1024];
    int n = cme__discovery_select(d, NULL, AUTO_DEFAULT_WORKERS, found, CME_MAX_DEVICES, why,
                                  sizeof(why));
    lua_createtable(L, 0, 2);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        push_pool_device(L, &found[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "devices");
    if (n == 0)
        set_str(L, "reason", why);
    lua_setfield(L, -2, "auto");
    CmeLeasePool *pool = cme__device_pool();
    pthread_mutex_lock(&pool->lock);
    int np = pool->nb_devices;
    CmeDevice *copy = malloc((size_t)(np ? np : 1) * sizeof(*copy));
    if (copy)
        memcpy(copy, pool->devices, (size_t)np * sizeof(*copy));
    pthread_mutex_unlock(&pool->lock);
    lua_createtable(L, copy ? np : 0, 0);
    for (int i = 0; copy && i < np; i++) {
        push_pool_device(L, &copy[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "pool");
    free(copy);
    free(d);
    return 1;
}

void cme__lua_open_devices(lua_State *L)
{
    lua_pushcfunction(L, l_devices);
}
