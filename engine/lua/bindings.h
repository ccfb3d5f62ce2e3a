/*
 * Lua bindings (the only code that includes lua.h). One lua_State, owned by the policy
 * thread; engine threads never see it.
 */
#ifndef CME_LUA_BINDINGS_H
#define CME_LUA_BINDINGS_H

#include <lauxlib.h>
#include <lua.h>

/* luaopen for the C module "cmafeng.core": version, backends, probe, engine, av1.
 * Exported so that plain luajit can load build/lua/cmafeng/core.so with require. */
__attribute__((visibility("default"))) int luaopen_cmafeng_core(lua_State *L);
/* luaopen for "cmafeng.lineedit": libedit line editing and Ctrl-C for the REPL. */
__attribute__((visibility("default"))) int luaopen_cmafeng_lineedit(lua_State *L);
/* Registers the embedded pure-Lua library and cmafeng.core in package.preload. */
void cme__lua_preload(lua_State *L);
/* Every C->Lua call goes through here: pcall with debug.traceback as the handler.
 * On error the message (with traceback) is left on the stack and 0 is returned. */
int cme__lua_pcall(lua_State *L, int nargs, int nresults);

void cme__lua_open_engine(lua_State *L);  /* pushes the engine functions table */
void cme__lua_open_av1(lua_State *L);     /* pushes the cmafeng.av1 functions table */
void cme__lua_open_inspect(lua_State *L); /* pushes the inspect(path) function */
void cme__lua_open_fs(lua_State *L);      /* pushes the cmafeng.core.fs table (lua/fs.c) */
void cme__lua_open_limits(lua_State *L);  /* pushes the cmafeng.core.limits table */
/* Sets media_probe and scene_scores in the table on the stack's top (the core module). */
void cme__lua_open_probe(lua_State *L);
void cme__lua_open_devices(lua_State *L); /* pushes the devices() function */
void cme__lua_open_decode(lua_State *L);  /* pushes the decode({init, seg...}) function */

struct CmeAv1SeqHdr;
/* Pushes a table of every sequence header field (cmafeng.av1.parse's layout). */
void cme__lua_push_seq_hdr(lua_State *L, const struct CmeAv1SeqHdr *s);

#endif
