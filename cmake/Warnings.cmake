# Warning flags for every target of ours (STYLE.md "Tests and build").
function(cme_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wundef -Wshadow -Wno-unused-parameter
    -Werror=vla -Werror=missing-prototypes -Werror=implicit-function-declaration)
  if(CME_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
