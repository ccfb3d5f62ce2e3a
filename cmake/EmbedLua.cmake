# cme_embed_lua(OUT files...): generates a C file holding every Lua module as a byte array
# and a table {module name, bytes, size}, read by engine/lua/preload.c.
function(cme_embed_lua out)
  set(files ${ARGN})
  # A ";" list would be split into separate arguments on the command line.
  string(REPLACE ";" "|" joined "${files}")
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DFILES=${joined}
            -P ${CMAKE_SOURCE_DIR}/cmake/EmbedLuaScript.cmake
    DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/EmbedLuaScript.cmake
    COMMENT "Embedding the Lua library" VERBATIM)
endfunction()
