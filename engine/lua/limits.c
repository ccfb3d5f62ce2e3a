/*
 * cmafeng.core.limits: the engine's limits table (engine/core/limits.h) as a Lua table,
 * { MIN_DIMENSION = 64, ... }, read by the recipe schema.
 */
#include "core/limits.h"
#include "lua/bindings.h"

void cme__lua_open_limits(lua_State *L)
{
    lua_newtable(L);
#define CME_LIMIT_FIELD_(name, value, what) \
    lua_pushnumber(L, (lua_Number)(value)); \
    lua_setfield(L, -2, #name);
    CME_LIMITS(CME_LIMIT_FIELD_)
#undef CME_LIMIT_FIELD_
}
