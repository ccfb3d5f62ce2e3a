# Optional backend: CME_ONEVPL=AUTO|ON|OFF. AUTO builds it when pkg-config finds vpl and
# degrades quietly otherwise; ON with vpl missing is a configuration error. The runtime
# library is loaded lazily at probe time, so a binary built with the backend still runs
# (and reports "no device") on a machine without the hardware.
set(CME_ONEVPL AUTO CACHE STRING "Build the OneVPL encoder backend (AUTO/ON/OFF)")
set_property(CACHE CME_ONEVPL PROPERTY STRINGS AUTO ON OFF)
set(CME_HAVE_ONEVPL 0)
if(NOT CME_ONEVPL STREQUAL "OFF")
  pkg_check_modules(ONEVPL_PC QUIET IMPORTED_TARGET vpl)
  if(ONEVPL_PC_FOUND)
    set(CME_HAVE_ONEVPL 1)
  elseif(CME_ONEVPL STREQUAL "ON")
    message(FATAL_ERROR "CME_ONEVPL=ON but pkg-config cannot find vpl (Debian: see Makefile deps)")
  endif()
endif()
