# Optional backend: CME_NVENC=AUTO|ON|OFF. AUTO builds it when pkg-config finds ffnvcodec and
# degrades quietly otherwise; ON with ffnvcodec missing is a configuration error. The runtime
# library is loaded lazily at probe time, so a binary built with the backend still runs
# (and reports "no device") on a machine without the hardware.
set(CME_NVENC AUTO CACHE STRING "Build the NVENC encoder backend (AUTO/ON/OFF)")
set_property(CACHE CME_NVENC PROPERTY STRINGS AUTO ON OFF)
set(CME_HAVE_NVENC 0)
if(NOT CME_NVENC STREQUAL "OFF")
  pkg_check_modules(NVENC_PC QUIET IMPORTED_TARGET ffnvcodec)
  if(NVENC_PC_FOUND)
    set(CME_HAVE_NVENC 1)
  elseif(CME_NVENC STREQUAL "ON")
    message(FATAL_ERROR "CME_NVENC=ON but pkg-config cannot find ffnvcodec (Debian: see Makefile deps)")
  endif()
endif()

# Adds each selected backend's include directories (never its libraries: runtimes are dlopen()ed).
function(cme_target_backends target)
  foreach(b NVENC ONEVPL VAAPI)
    if(CME_HAVE_${b})
      target_include_directories(${target} PRIVATE ${${b}_PC_INCLUDE_DIRS})
    endif()
  endforeach()
endfunction()
