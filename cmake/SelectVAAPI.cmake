# Optional backend: CME_VAAPI=AUTO|ON|OFF. AUTO builds it when pkg-config finds libva and
# degrades quietly otherwise; ON with libva missing is a configuration error. The runtime
# library is loaded lazily at probe time, so a binary built with the backend still runs
# (and reports "no device") on a machine without the hardware.
set(CME_VAAPI AUTO CACHE STRING "Build the VAAPI encoder backend (AUTO/ON/OFF)")
set_property(CACHE CME_VAAPI PROPERTY STRINGS AUTO ON OFF)
set(CME_HAVE_VAAPI 0)
if(NOT CME_VAAPI STREQUAL "OFF")
  pkg_check_modules(VAAPI_PC QUIET IMPORTED_TARGET libva)
  if(VAAPI_PC_FOUND)
    set(CME_HAVE_VAAPI 1)
  elseif(CME_VAAPI STREQUAL "ON")
    message(FATAL_ERROR "CME_VAAPI=ON but pkg-config cannot find libva (Debian: see Makefile deps)")
  endif()
endif()
