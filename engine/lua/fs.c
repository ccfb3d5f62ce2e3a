/*
 * cmafeng.core.fs: the few file-system operations the Lua side needs and plain Lua lacks,
 * all built on engine/core (one atomic writer, one directory lock for C and Lua alike).
 *
 *   fs.write_atomic(path, text)  -> true | nil, message      (temp + fsync + rename + dir fsync)
 *   fs.lock(dir)                 -> lock | nil, message, "busy"|"error", holder_pid
 *   lock:release()                  (safe twice; also on __gc)
 *   fs.listdir(dir)              -> { names... } | nil, message   (no "." and "..")
 *   fs.stat(path)                -> { type = "file"|"dir"|"fifo"|"char"|"block"|"socket"|
 *                                     "other", size =, mtime = } | nil, message
 *   fs.remove_tree(path)         -> true | nil, message
 *   fs.realpath(path)            -> absolute path | nil, message
 *   fs.mkdir(path)               -> true | nil, message   (one level, mode 0755)
 *   fs.pid()                     -> this process's id
 *   fs.fsync(path)               -> true | nil, message   (a file written through io: the
 *                                   events stream, once closed)
 *
 * Expected failures return nil, message (STYLE.md, two error channels); bad argument types
 * raise.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* realpath */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmafeng/common.h"
#include "core/file.h"
#include "core/outdir.h"
#include "lua/bindings.h"

#define LOCK_MT "cmafeng.OutdirLock"

static int fail(lua_State *L, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
}

static int l_write_atomic(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t size;
    const char *text = luaL_checklstring(L, 2, &size);
    char err[4400];
    if (cme__file_write_atomic(path, text, size, err, sizeof(err)) < 0)
        return fail(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_lock(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    CmeOutdirLock *lock = lua_newuserdata(L, sizeof(*lock));
    lock->fd = -1;
    // stack: dir, lock
    char err[4400];
    long holder = 0;
    int r = cme__outdir_lock(lock, dir, &holder, err, sizeof(err));
    if (r < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        lua_pushstring(L, r == CME_ETIMEDOUT ? "busy" : "error");
        lua_pushinteger(L, holder);
        return 4;
    }
    luaL_getmetatable(L, LOCK_MT);
    lua_setmetatable(L, -2);
    return 1;
}

static int l_lock_release(lua_State *L)
{
    CmeOutdirLock *lock = luaL_checkudata(L, 1, LOCK_MT);
    cme__outdir_unlock(lock);
    return 0;
}

static int l_listdir(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    DIR *d = opendir(dir);
    if (!d) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", dir, strerror(errno));
        return 2;
    }
    lua_newtable(L);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        lua_pushstring(L, de->d_name);
        lua_rawseti(L, -2, ++n);
    }
    closedir(d);
    return 1;
}

static int l_stat(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(errno));
        return 2;
    }
    const char *type = S_ISREG(st.st_mode)    ? "file"
                       : S_ISDIR(st.st_mode)  ? "dir"
                       : S_ISFIFO(st.st_mode) ? "fifo"
                       : S_ISCHR(st.st_mode)  ? "char"
                       : S_ISBLK(st.st_mode)  ? "block"
                       : S_ISSOCK(st.st_mode) ? "socket"
                                              : "other";
    lua_createtable(L, 0, 3);
    lua_pushstring(L, type);
    lua_setfield(L, -2, "type");
    lua_pushnumber(L, (lua_Number)st.st_size);
    lua_setfield(L, -2, "size");
    lua_pushnumber(L, (lua_Number)st.st_mtime);
    lua_setfield(L, -2, "mtime");
    return 1;
}

static int l_remove_tree(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char err[4400];
    if (cme__remove_tree(path, err, sizeof(err)) < 0)
        return fail(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_realpath(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char *p = realpath(path, NULL);
    if (!p) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(errno));
        return 2;
    }
    lua_pushstring(L, p);
    free(p);
    return 1;
}

static int l_mkdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (mkdir(path, 0755) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: cannot create directory: %s", path, strerror(errno));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_fsync(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        lua_pushnil(L);
        lua_pushfstring(L, "%s: fsync failed: %s", path, strerror(e));
        return 2;
    }
    if (close(fd) < 0)
        return fail(L, strerror(errno));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_pid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

void cme__lua_open_fs(lua_State *L)
{
    static const luaL_Reg lock_methods[] = {
        { "release", l_lock_release },
        { NULL, NULL },
    };
    if (luaL_newmetatable(L, LOCK_MT)) {
        lua_newtable(L);
        luaL_register(L, NULL, lock_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_lock_release);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {
        { "write_atomic", l_write_atomic },
        { "lock", l_lock },
        { "listdir", l_listdir },
        { "stat", l_stat },
        { "remove_tree", l_remove_tree },
        { "realpath", l_realpath },
        { "mkdir", l_mkdir },
        { "pid", l_pid },
        { "fsync", l_fsync },
        { NULL, NULL },
    };
    lua_newtable(L);
    luaL_register(L, NULL, fns);
}
