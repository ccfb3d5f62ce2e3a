# The libavcodec encoder backend (engine/enc/lavc.c): libaom-av1, librav1e and FFmpeg's
# hardware AV1 encoders (av1_nvenc, av1_qsv, av1_vaapi, av1_amf) by name. FFmpeg is a
# required dependency, so the backend is always built; which encoders exist is asked at run
# time (avcodec_find_encoder_by_name, `cmafeng devices`). This module only records, for the
# feature summary, whether the linked libavcodec is new enough to have hardware AV1 encoders
# at all (FFmpeg 6.0 = libavcodec 60).
set(CME_LAVC_VERSION "${FFMPEG_libavcodec_VERSION}")
if(NOT CME_LAVC_VERSION)
  pkg_get_variable(CME_LAVC_VERSION libavcodec version)
endif()
set(CME_LAVC_HW_POSSIBLE OFF)
if(CME_LAVC_VERSION VERSION_GREATER_EQUAL 60)
  set(CME_LAVC_HW_POSSIBLE ON)
endif()
add_feature_info(libavcodec-AV1 ON
  "libaom-av1 / librav1e through libavcodec ${CME_LAVC_VERSION} (checked at run time)")
add_feature_info(libavcodec-hw-AV1 CME_LAVC_HW_POSSIBLE
  "FFmpeg's av1_nvenc/av1_qsv/av1_vaapi/av1_amf (need FFmpeg >= 6.0; this is libavcodec ${CME_LAVC_VERSION})")
