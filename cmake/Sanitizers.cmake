# CME_SANITIZE=address,undefined or CME_SANITIZE=thread applies to every target.
set(CME_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined | thread")
if(CME_SANITIZE)
  add_compile_options(-fsanitize=${CME_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${CME_SANITIZE})
endif()
