/* package.preload for the embedded Lua library (mpv's builtin scripts) and the C core. */
#include <string.h>

#include "lua/bindings.h"
#include "lua/embedded.h"

static int load_embedded(lua_State *L)
{
    const CmeEmbeddedLua *m = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbuffer(L, m->source, m->size, m->chunkname) != 0)
        return lua_error(L);
    lua_pushvalue(L, 1); /* module name, as require passes it */
    lua_call(L, 1, 1);
    return 1;
}

void cme__lua_preload(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    // stack: package, preload
    for (const CmeEmbeddedLua *m = cme__embedded_lua; m->module; m++) {
        lua_pushlightuserdata(L, (void *)m);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, m->module);
    }
    lua_pushcfunction(L, luaopen_cmafeng_core);
    lua_setfield(L, -2, "cmafeng.core");
    lua_pushcfunction(L, luaopen_cmafeng_lineedit);
    lua_setfield(L, -2, "cmafeng.lineedit");
    lua_pop(L, 2);
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    lua_getglobal(L, "debug");
    lua_getfield(L, -1, "traceback");
    lua_pushstring(L, msg);
    lua_pushinteger(L, 2);
    lua_call(L, 2, 1);
    return 1;
}

int cme__lua_pcall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs; /* the function's index */
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    int r = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return r == 0;
}
