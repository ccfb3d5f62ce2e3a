/*
 * cmafeng's entry point. The CLI owns the only lua_State (DESIGN.md section 2): it opens
 * the standard libraries, registers the embedded Lua library and the C core in
 * package.preload, and hands argv to cmafeng.cli, which returns the exit code.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <lualib.h>

#include "lua/bindings.h"

/* The first SIGINT/SIGTERM asks the job to stop: the runloop sees the flag, cancels the
 * engine, which drains its encoders, and exits 130 with every finished segment in place;
 * recipe code running at that moment is stopped by the sandbox's count hook, which reads
 * the same flag. A second one kills at once (the default action, restored here). */
static volatile sig_atomic_t interrupted;

/* Recipe code may sit in one long C call per VM instruction (a big string.upper, a sort), so
 * the sandbox's count hook alone could take minutes to notice the flag. While the sandbox
 * says recipe code runs, the handler also sets a hook that fires at the very next
 * instruction, call or return (as luajit.c's own handler does; lua_sethook is safe in a
 * signal handler), and that hook raises "interrupted" in the recipe's code. */
static lua_State *main_L;
static volatile sig_atomic_t in_recipe;
static char sandbox_source[512];

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    if (!in_recipe) {
        lua_sethook(L, NULL, 0, 0);
        return;
    }
    /* Never raise in the sandbox's own code or while entering a C function: the error must
     * start in recipe code, inside the sandbox's protected call. The hook stays set and
     * fires again at the next instruction. */
    if (!lua_getinfo(L, "S", ar) || strcmp(ar->what, "C") == 0 ||
        strcmp(ar->source, sandbox_source) == 0)
        return;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted");
}

static void on_signal(int sig)
{
    interrupted = sig;
    signal(sig, SIG_DFL);
    if (in_recipe && main_L)
        lua_sethook(main_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* recipe_running(on, sandbox_source) -> previous state. Called by the sandbox around every
 * call into recipe code. */
static int l_recipe_running(lua_State *L)
{
    int on = lua_toboolean(L, 1);
    const char *src = luaL_optstring(L, 2, NULL);
    if (src)
        snprintf(sandbox_source, sizeof(sandbox_source), "%s", src);
    lua_pushboolean(L, in_recipe);
    in_recipe = on;
    return 1;
}

static int l_interrupted(lua_State *L)
{
    if (interrupted)
        lua_pushinteger(L, interrupted);
    else
        lua_pushnil(L);
    return 1;
}

/* The Lua state's allocator counts the bytes it holds, so that the sandbox can limit what
 * recipe code allocates (lua/cmafeng/sandbox.lua, MEMORY_LIMIT): while a limit is set, a
 * request that would grow the total past it fails, which LuaJIT raises as "not enough
 * memory" in the recipe's code. Frees and shrinks always succeed. Only the policy thread
 * uses the state, so plain variables do. */
static size_t mem_used, mem_limit;
static int mem_hit;

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        mem_used -= old;
        return NULL;
    }
    if (mem_limit && nsize > old && mem_used + (nsize - old) > mem_limit) {
        mem_hit = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p)
        mem_used = mem_used - old + nsize;
    return p;
}

static int l_memory_used(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)mem_used);
    return 1;
}

/* memory_limit(bytes) -> previous limit, whether an allocation was refused under it.
 * 0 = no limit. */
static int l_memory_limit(lua_State *L)
{
    lua_Number want = luaL_checknumber(L, 1);
    lua_pushnumber(L, (lua_Number)mem_limit);
    lua_pushboolean(L, mem_hit);
    mem_limit = want > 0 ? (size_t)want : 0;
    mem_hit = 0;
    return 2;
}

static int on_panic(lua_State *L)
{
    fprintf(stderr, "cmafeng: internal error: unprotected Lua error: %s\n",
            lua_isstring(L, -1) ? lua_tostring(L, -1) : "(not a string)");
    return 0;
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
#ifdef __GLIBC__
    /* Large blocks (encoded segments, muxing buffers, scaled pictures) come from mmap and
     * go back to the system when freed. glibc's default threshold rises after the first such
     * free, and then blocks of megabytes from several worker threads fragment the heap:
     * 47 MB more peak RSS on the 1080p bench ladder (bench/ladder.sh). */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
    lua_State *L = lua_newstate(counting_alloc, NULL);
    if (!L) {
        fprintf(stderr, "cmafeng: cannot create the Lua state: out of memory\n");
        return 1;
    }
    lua_atpanic(L, on_panic);
    main_L = L;
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
    lua_pushcfunction(L, l_recipe_running);
    lua_setfield(L, -2, "recipe_running");
    lua_pushcfunction(L, l_memory_used);
    lua_setfield(L, -2, "memory_used");
    lua_pushcfunction(L, l_memory_limit);
    lua_setfield(L, -2, "memory_limit");
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
