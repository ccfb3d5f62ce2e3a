/* The Lua library embedded by cmake/EmbedLuaScript.cmake. */
#ifndef CME_LUA_EMBEDDED_H
#define CME_LUA_EMBEDDED_H

#include <stddef.h>

typedef struct CmeEmbeddedLua {
    const char *module;    /* "cmafeng.recipe" */
    const char *chunkname; /* "@lua/cmafeng/recipe.lua" */
    const char *source;
    size_t size;
} CmeEmbeddedLua;

/* NULL-terminated. */
extern const CmeEmbeddedLua cme__embedded_lua[];

#endif
