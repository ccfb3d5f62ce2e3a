/* The C module "cmafeng.core": version, built features, probe, engine and av1 tables. */
#include <string.h>

#include "cmafeng/engine.h"
#include "cmafeng_config.h"
#include "enc/encoder.h"
#include "lua/bindings.h"

static int l_version(lua_State *L)
{
    lua_pushstring(L, cme_version());
    return 1;
}

/* backends(probe) -> { {name=, built=bool, status=, available=bool}, ... }: every backend a
 * recipe may name, from the encoder registry (enc/encoder.c). */
static int l_backends(lua_State *L)
{
    const char *const *names = cme__encoder_known;
    int n = 0;
    while (names[n])
        n++;
    int probe = lua_toboolean(L, 1);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        const CmeEncoderImpl *impl = cme__encoder_find_name(names[i]);
        lua_createtable(L, 0, 4);
        lua_pushstring(L, names[i]);
        lua_setfield(L, -2, "name");
        lua_pushboolean(L, impl != NULL);
        lua_setfield(L, -2, "built");
        if (probe && impl) {
            char msg[256] = { 0 };
            int r = impl->probe(msg, sizeof(msg));
            lua_pushboolean(L, r == 0);
            lua_setfield(L, -2, "available");
            lua_pushstring(L, msg);
            lua_setfield(L, -2, "status");
        }
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* probe(path) -> info | nil, message, code */
static int l_probe(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    CmeSourceInfo info;
    char err[512] = { 0 };
    int r = cme_source_probe(path, &info, err, sizeof(err));
    if (r < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushstring(L, cme_err_name(r));
        return 3;
    }
    lua_createtable(L, 0, 8);
    lua_pushinteger(L, info.width);
    lua_setfield(L, -2, "width");
    lua_pushinteger(L, info.height);
    lua_setfield(L, -2, "height");
    lua_pushinteger(L, info.fps_num);
    lua_setfield(L, -2, "fps_num");
    lua_pushinteger(L, info.fps_den);
    lua_setfield(L, -2, "fps_den");
    lua_pushnumber(L, info.duration);
    lua_setfield(L, -2, "duration");
    lua_pushnumber(L, (lua_Number)info.nb_frames);
    lua_setfield(L, -2, "frames");
    lua_pushstring(L, info.codec);
    lua_setfield(L, -2, "codec");
    lua_pushboolean(L, info.has_audio);
    lua_setfield(L, -2, "has_audio");
    return 1;
}

int luaopen_cmafeng_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "version", l_version },
        { "backends", l_backends },
        { "probe", l_probe },
        { NULL, NULL },
    };
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    cme__lua_open_engine(L);
    lua_setfield(L, -2, "engine");
    cme__lua_open_av1(L);
    lua_setfield(L, -2, "av1");
    cme__lua_open_inspect(L);
    lua_setfield(L, -2, "inspect");
    cme__lua_open_fs(L);
    lua_setfield(L, -2, "fs");
    cme__lua_open_limits(L);
    lua_setfield(L, -2, "limits");
    cme__lua_open_probe(L);
    cme__lua_open_devices(L);
    lua_setfield(L, -2, "devices");
    cme__lua_open_decode(L);
    lua_setfield(L, -2, "decode");
    return 1;
}
