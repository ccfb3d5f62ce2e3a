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

/* features() -> { {name=, built=bool, status=, available=bool}, ... } */
static int l_backends(lua_State *L)
{
    static const struct {
        const char *name;
        CmeBackend b;
        int built;
    } all[] = {
        { "svt", CME_BACKEND_SVT, 1 },
        { "nvenc", CME_BACKEND_NVENC, CME_HAVE_NVENC },
        { "qsv", CME_BACKEND_QSV, CME_HAVE_ONEVPL },
        { "vaapi", CME_BACKEND_VAAPI, CME_HAVE_VAAPI },
    };
    int probe = lua_toboolean(L, 1);
    lua_createtable(L, 4, 0);
    for (int i = 0; i < 4; i++) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, all[i].name);
        lua_setfield(L, -2, "name");
        lua_pushboolean(L, all[i].built);
        lua_setfield(L, -2, "built");
        if (probe && all[i].built) {
            char msg[256] = { 0 };
            const CmeEncoderImpl *impl = cme__encoder_find(all[i].b);
            int r = impl ? impl->probe(msg, sizeof(msg)) : CME_ENODEV;
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
    cme__lua_open_decode(L);
    lua_setfield(L, -2, "decode");
    return 1;
}
