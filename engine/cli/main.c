/*
 * cmafeng's entry point. The CLI owns the only lua_State (DESIGN.md section 2): it opens
 * the standard libraries, registers the embedded Lua library and the C core in
 * package.preload, and hands argv to cmafeng.cli, which returns the exit code.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <libavutil/log.h>
#include <lualib.h>

#include "lua/bindings.h"

/* The first SIGINT/SIGTERM asks the job to stop: the runloop sees the flag, cancels the
 * engine, which drains its encoders, and exits 130 with every finished segment in place.
 * A second one kills at once (the default action, restored here). */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
    signal(sig, SIG_DFL);
}

static int l_interrupted(lua_State *L)
{
    if (interrupted)
        lua_pushinteger(L, interrupted);
    else
        lua_pushnil(L);
    return 1;
}

static int l_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

int main(int argc, char **argv)
{
    /* FFmpeg's informational logging (encoder statistics at close) is noise on a CLI
     * whose errors are reported as cmafeng: <what>: <why>. */
    av_log_set_level(AV_LOG_ERROR);
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "cmafeng: cannot create the Lua state: out of memory\n");
        return 1;
    }
    luaL_openlibs(L);
    cme__lua_preload(L);
    lua_getglobal(L, "require");
    lua_pushstring(L, "cmafeng.core");
    if (!cme__lua_pcall(L, 1, 1)) {
        fprintf(stderr, "cmafeng: internal error: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    lua_pushcfunction(L, l_isatty);
    lua_setfield(L, -2, "isatty");
    lua_pushcfunction(L, l_interrupted);
    lua_setfield(L, -2, "interrupted");
    struct sigaction sa;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    lua_pop(L, 1);

    lua_getglobal(L, "require");
    lua_pushstring(L, "cmafeng.cli");
    int code = 1;
    if (cme__lua_pcall(L, 1, 1)) {
        lua_getfield(L, -1, "main");
        // stack: cli, main
        lua_createtable(L, argc, 0);
        for (int i = 1; i < argc; i++) {
            lua_pushstring(L, argv[i]);
            lua_rawseti(L, -2, i);
        }
        if (cme__lua_pcall(L, 1, 1))
            code = (int)luaL_optinteger(L, -1, 1);
        else
            fprintf(stderr, "cmafeng: internal error: %s\n", lua_tostring(L, -1));
    } else {
        fprintf(stderr, "cmafeng: internal error: %s\n", lua_tostring(L, -1));
    }
    lua_close(L);
    return code;
}
