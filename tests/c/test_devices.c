/*
 * Device discovery without the hardware: each SDK's answer, recorded as the SDK's own
 * structures (NVENC GUID lists and caps values, VA-API entrypoints, config attributes and
 * vendor strings, oneVPL implementation descriptions), through the pure functions that
 * turn it into a lease-pool device; the oneVPL configuration translation (recipe ->
 * mfxVideoParam); and discovery on this machine, which must describe every backend.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmafeng/common.h"
#include "cmafeng_config.h"
#include "enc/discover.h"
#include "enc/encoder.h"
#include "enc/onevpl.h"
#include "sched/lease_pool.h"

#if CME_HAVE_NVENC
/* nvEncGetEncodeGUIDs of an RTX 4070 (H.264, HEVC, AV1) and of an RTX 3060 (no AV1). */
static void test_nvenc_guids_and_caps(void **state)
{
    (void)state;
    const GUID h264 = {
        0x6bc82762, 0x4e63, 0x4ca4, { 0xaa, 0x85, 0x1e, 0x50, 0xf3, 0x21, 0xf6, 0xbf }
    };
    const GUID hevc = {
        0x790cdc88, 0x4522, 0x4d7b, { 0x94, 0x25, 0xbd, 0xa9, 0x97, 0x5f, 0x76, 0x03 }
    };
    const GUID ada[] = { h264, hevc, cme__nvenc_av1_guid };
    const GUID ampere[] = { h264, hevc };
    assert_int_equal(cme__nvenc_has_av1(ada, 3), 1);
    assert_int_equal(cme__nvenc_has_av1(ampere, 2), 0);
    assert_int_equal(cme__nvenc_has_av1(ada, 0), 0);
    /* The AV1 GUID of NVENC API 12: {0A352289-0AA7-4759-862D-5D15CD16D254}. */
    assert_int_equal(cme__nvenc_av1_guid.Data1, 0x0a352289);
    assert_int_equal(cme__nvenc_av1_guid.Data4[7], 0x54);

    CmeDeviceInfo d;
    /* NV_ENC_CAPS_WIDTH_MAX / HEIGHT_MAX / SUPPORT_10BIT_ENCODE for AV1 on Ada. */
    cme__nvenc_fill(&d, 1, "NVIDIA GeForce RTX 4070", 1, 8192, 8192, 1);
    assert_string_equal(d.id, "nvenc:1");
    assert_string_equal(d.backend, "nvenc");
    assert_string_equal(d.vendor, "NVIDIA");
    assert_string_equal(d.path, "1");
    assert_int_equal(d.av1_encode, 1);
    assert_int_equal(d.max_width, 8192);
    assert_int_equal(d.max_height, 8192);
    assert_int_equal(d.ten_bit, 1);
    assert_int_equal(d.sessions, 8);
    cme__nvenc_fill(&d, 0, "NVIDIA GeForce RTX 3060", 0, 0, 0, 0);
    assert_int_equal(d.av1_encode, 0);
    assert_int_equal(d.sessions, 0);
    assert_non_null(strstr(d.status, "Ada Lovelace"));
}
#endif

#if CME_HAVE_VAAPI
static void test_vaapi_entrypoints(void **state)
{
    (void)state;
    const VAEntrypoint arc[] = { VAEntrypointVLD, VAEntrypointEncSlice, VAEntrypointEncSliceLP };
    const VAEntrypoint lp_only[] = { VAEntrypointVLD, VAEntrypointEncSliceLP };
    const VAEntrypoint amd[] = { VAEntrypointVLD, VAEntrypointEncSlice };
    const VAEntrypoint decode_only[] = { VAEntrypointVLD };
    assert_int_equal(cme__vaapi_av1_entrypoint(arc, 3), VAEntrypointEncSliceLP);
    assert_int_equal(cme__vaapi_av1_entrypoint(lp_only, 2), VAEntrypointEncSliceLP);
    assert_int_equal(cme__vaapi_av1_entrypoint(amd, 2), VAEntrypointEncSlice);
    assert_int_equal(cme__vaapi_av1_entrypoint(decode_only, 1), 0);
    assert_int_equal(cme__vaapi_av1_entrypoint(NULL, 0), 0);
}

static void test_vaapi_attributes(void **state)
{
    (void)state;
    const char *ihd = "Intel iHD driver for Intel(R) Gen Graphics - 23.1.1 ()";
    VAConfigAttrib attrs[3] = {
        { .type = VAConfigAttribRTFormat, .value = VA_RT_FORMAT_YUV420 | VA_RT_FORMAT_YUV420_10 },
        { .type = VAConfigAttribMaxPictureWidth, .value = 8192 },
        { .type = VAConfigAttribMaxPictureHeight, .value = 8192 },
    };
    CmeDeviceInfo d;
    cme__vaapi_fill(&d, "/dev/dri/renderD129", ihd, VAEntrypointEncSliceLP, attrs, 3);
    assert_string_equal(d.id, "vaapi:renderD129");
    assert_string_equal(d.path, "/dev/dri/renderD129");
    assert_string_equal(d.vendor, "Intel");
    assert_int_equal(d.av1_encode, 1);
    assert_int_equal(d.ten_bit, 1);
    assert_int_equal(d.max_width, 8192);
    assert_non_null(strstr(d.status, "EncSliceLP"));
    /* 8-bit only, sizes not reported: the AV1 fixed-function default. */
    attrs[0].value = VA_RT_FORMAT_YUV420;
    attrs[1].value = VA_ATTRIB_NOT_SUPPORTED;
    attrs[2].value = VA_ATTRIB_NOT_SUPPORTED;
    const char *mesa = "Mesa Gallium driver 23.1.2 for AMD Radeon RX 7600 (gfx1102, LLVM 15.0.7)";
    cme__vaapi_fill(&d, "/dev/dri/renderD128", mesa, VAEntrypointEncSlice, attrs, 3);
    assert_string_equal(d.vendor, "AMD");
    assert_int_equal(d.ten_bit, 0);
    assert_int_equal(d.max_width, 8192);
    assert_int_equal(d.max_height, 8192);
    /* A driver without AV1 encode is listed as such. */
    cme__vaapi_fill(&d, "/dev/dri/renderD128", mesa, 0, attrs, 0);
    assert_int_equal(d.av1_encode, 0);
    assert_non_null(strstr(d.status, "no AV1 encode"));
}
#endif

static void test_vendor_strings(void **state)
{
    (void)state;
    assert_string_equal(cme__vaapi_vendor_from_string("Intel i965 driver for Intel(R) Kaby Lake"),
                        "Intel");
    /* Mesa names itself first: the GPU after " for " decides. */
    assert_string_equal(
        cme__vaapi_vendor_from_string(
            "Mesa Gallium driver 22.3.6 for AMD Radeon Graphics (raphael_mendocino)"),
        "AMD");
    assert_string_equal(cme__vaapi_vendor_from_string("Mesa Gallium driver 23.1 for NVIDIA AD104"),
                        "NVIDIA");
    assert_string_equal(cme__vaapi_vendor_from_string("VDPAU backend"), "unknown");
    assert_string_equal(cme__vaapi_vendor_from_string(NULL), "unknown");
    assert_string_equal(cme__pci_vendor(0x8086), "Intel");
    assert_string_equal(cme__pci_vendor(0x10de), "NVIDIA");
    assert_string_equal(cme__pci_vendor(0x1002), "AMD");
}

#if CME_HAVE_ONEVPL
/* An implementation description as the Intel GPU runtime (libmfx-gen) reports it for an
 * Arc A770: HEVC and AV1 encoders, AV1 Main with system and VA memory, NV12 and P010. */
static void test_vpl_implementation(void **state)
{
    (void)state;
    mfxU32 formats[] = { MFX_FOURCC_NV12, MFX_FOURCC_P010 };
    struct encmemdesc mem[2];
    memset(mem, 0, sizeof(mem));
    mem[0].MemHandleType = MFX_RESOURCE_SYSTEM_SURFACE;
    mem[0].Width.Min = 64;
    mem[0].Width.Max = 8192;
    mem[0].Height.Min = 64;
    mem[0].Height.Max = 8192;
    mem[0].NumColorFormats = 2;
    mem[0].ColorFormats = formats;
    mem[1] = mem[0];
    mem[1].MemHandleType = MFX_RESOURCE_VA_SURFACE;
    mem[1].NumColorFormats = 1; /* NV12 only */
    struct encprofile prof = { .Profile = MFX_PROFILE_AV1_MAIN, .NumMemTypes = 2, .MemDesc = mem };
    struct encoder codecs[2];
    memset(codecs, 0, sizeof(codecs));
    codecs[0].CodecID = MFX_CODEC_HEVC;
    codecs[1].CodecID = MFX_CODEC_AV1;
    codecs[1].MaxcodecLevel = MFX_LEVEL_AV1_61;
    codecs[1].NumProfiles = 1;
    codecs[1].Profiles = &prof;
    mfxImplDescription desc;
    memset(&desc, 0, sizeof(desc));
    desc.Impl = MFX_IMPL_TYPE_HARDWARE;
    desc.AccelerationMode = MFX_ACCEL_MODE_VIA_VAAPI;
    snprintf(desc.ImplName, sizeof(desc.ImplName), "mfx-gen");
    desc.VendorID = 0x8086;
    snprintf(desc.Dev.DeviceID, sizeof(desc.Dev.DeviceID), "56a0/0");
    desc.Enc.NumCodecs = 2;
    desc.Enc.Codecs = codecs;

    CmeDeviceInfo d;
    assert_int_equal(cme__vpl_fill(&d, 2, &desc), 1);
    assert_string_equal(d.id, "qsv:2");
    assert_string_equal(d.backend, "qsv");
    assert_string_equal(d.vendor, "Intel");
    assert_string_equal(d.path, "2");
    assert_non_null(strstr(d.name, "56a0/0"));
    assert_int_equal(d.max_width, 8192);
    assert_int_equal(d.max_height, 8192);
    assert_int_equal(d.ten_bit, 1);
    /* NV12 only (an 8-bit profile): no 10-bit. */
    mem[0].NumColorFormats = 1;
    mem[1].NumColorFormats = 1;
    assert_int_equal(cme__vpl_fill(&d, 0, &desc), 1);
    assert_int_equal(d.ten_bit, 0);
    /* No AV1 among the encoders (an Alder Lake iGPU), or a software implementation. */
    desc.Enc.NumCodecs = 1;
    assert_int_equal(cme__vpl_fill(&d, 0, &desc), 0);
    desc.Enc.NumCodecs = 2;
    desc.Impl = MFX_IMPL_TYPE_SOFTWARE;
    assert_int_equal(cme__vpl_fill(&d, 0, &desc), 0);
}

static CmeEncoderSettings vpl_settings(void)
{
    CmeEncoderSettings s = {
        .width = 854,
        .height = 480,
        .fps_num = 30000,
        .fps_den = 1001,
        .bit_depth = 8,
        .crf = 35,
        .preset = 4,
        .keyint = 60,
        .color_primaries = 1,
        .transfer_characteristics = 1,
        .matrix_coefficients = 1,
    };
    return s;
}

static void test_vpl_params(void **state)
{
    (void)state;
    CmeEncoderSettings s = vpl_settings();
    CmeVplParams p;
    char err[256] = { 0 };
    assert_int_equal(cme__vpl_params(&s, 0, &p, err, sizeof(err)), 0);
    const mfxInfoMFX *m = &p.par.mfx;
    assert_int_equal(m->CodecId, MFX_CODEC_AV1);
    assert_int_equal(m->CodecProfile, MFX_PROFILE_AV1_MAIN);
    assert_int_equal(m->CodecLevel, 0);
    assert_int_equal(m->TargetUsage, 4);
    assert_int_equal(m->RateControlMethod, MFX_RATECONTROL_CQP);
    assert_int_equal(m->QPI, 140);
    assert_int_equal(m->QPP, 140);
    assert_int_equal(m->QPB, 140);
    assert_int_equal(m->GopPicSize, 60);
    assert_int_equal(m->GopRefDist, 1);
    assert_int_equal(m->GopOptFlag, MFX_GOP_CLOSED);
    assert_int_equal(m->IdrInterval, 0);
    assert_int_equal(m->FrameInfo.FourCC, MFX_FOURCC_NV12);
    assert_int_equal(m->FrameInfo.ChromaFormat, MFX_CHROMAFORMAT_YUV420);
    assert_int_equal(m->FrameInfo.BitDepthLuma, 8);
    assert_int_equal(m->FrameInfo.Shift, 0);
    assert_int_equal(m->FrameInfo.Width, 864); /* 16-aligned surface */
    assert_int_equal(m->FrameInfo.Height, 480);
    assert_int_equal(m->FrameInfo.CropW, 854);
    assert_int_equal(m->FrameInfo.CropH, 480);
    assert_int_equal(m->FrameInfo.FrameRateExtN, 30000);
    assert_int_equal(m->FrameInfo.FrameRateExtD, 1001);
    assert_int_equal(m->FrameInfo.PicStruct, MFX_PICSTRUCT_PROGRESSIVE);
    assert_int_equal(p.par.IOPattern, MFX_IOPATTERN_IN_SYSTEM_MEMORY);
    assert_int_equal(p.par.AsyncDepth, CME_VPL_ASYNC_DEPTH);
    assert_int_equal(p.par.NumExtParam, 1);
    assert_ptr_equal(p.par.ExtParam[0], &p.vsi.Header);
    assert_int_equal(p.vsi.Header.BufferId, MFX_EXTBUFF_VIDEO_SIGNAL_INFO);
    assert_int_equal(p.vsi.Header.BufferSz, sizeof(p.vsi));
    assert_int_equal(p.vsi.ColourDescriptionPresent, 1);
    assert_int_equal(p.vsi.ColourPrimaries, 1);
    assert_int_equal(p.vsi.VideoFullRange, 0);

    /* 10-bit BT.2020 PQ, full range, level 5.1, ICQ. */
    s.bit_depth = 10;
    s.level = 51;
    s.color_primaries = 9;
    s.transfer_characteristics = 16;
    s.matrix_coefficients = 9;
    s.full_range = 1;
    s.crf = 63;
    assert_int_equal(cme__vpl_params(&s, 1, &p, err, sizeof(err)), 0);
    assert_int_equal(p.par.mfx.FrameInfo.FourCC, MFX_FOURCC_P010);
    assert_int_equal(p.par.mfx.FrameInfo.BitDepthLuma, 10);
    assert_int_equal(p.par.mfx.FrameInfo.BitDepthChroma, 10);
    assert_int_equal(p.par.mfx.FrameInfo.Shift, 1);
    assert_int_equal(p.par.mfx.CodecLevel, MFX_LEVEL_AV1_51);
    assert_int_equal(p.par.mfx.RateControlMethod, MFX_RATECONTROL_ICQ);
    assert_int_equal(p.par.mfx.ICQQuality, 51);
    assert_int_equal(p.vsi.TransferCharacteristics, 16);
    assert_int_equal(p.vsi.VideoFullRange, 1);
    s.crf = 1;
    assert_int_equal(cme__vpl_params(&s, 1, &p, err, sizeof(err)), 0);
    assert_int_equal(p.par.mfx.ICQQuality, 1);
    /* Unspecified colour: no description in the bitstream. */
    s.color_primaries = s.transfer_characteristics = s.matrix_coefficients = 2;
    assert_int_equal(cme__vpl_params(&s, 0, &p, err, sizeof(err)), 0);
    assert_int_equal(p.vsi.ColourDescriptionPresent, 0);

    /* Out of range: named. */
    s = vpl_settings();
    s.preset = 10;
    assert_int_equal(cme__vpl_params(&s, 0, &p, err, sizeof(err)), CME_EINVAL);
    assert_non_null(strstr(err, "preset 10 is out of range for oneVPL AV1 (TargetUsage 1..7)"));
    s = vpl_settings();
    s.bit_depth = 12;
    assert_int_equal(cme__vpl_params(&s, 0, &p, err, sizeof(err)), CME_EINVAL);
}
#endif

/* Discovered devices become lease-pool devices with their session caps. */
static void test_fill_pool(void **state)
{
    (void)state;
    CmeDiscovery *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    CmeDeviceInfo *v = cme__discovery_add(d);
    snprintf(v->id, sizeof(v->id), "cpu-svt");
    snprintf(v->backend, sizeof(v->backend), "svt");
    v->av1_encode = v->can_run = 1;
    v = cme__discovery_add(d);
    snprintf(v->id, sizeof(v->id), "cpu-aom");
    snprintf(v->backend, sizeof(v->backend), "aom");
    v->av1_encode = v->can_run = 1;
    v = cme__discovery_add(d);
    snprintf(v->id, sizeof(v->id), "vaapi:renderD128"); /* no AV1 encode: left out */
    snprintf(v->backend, sizeof(v->backend), "vaapi");
    v = cme__discovery_add(d);
    snprintf(v->id, sizeof(v->id), "nvenc:0"); /* AV1 GPU, FFmpeg without av1_nvenc */
    snprintf(v->backend, sizeof(v->backend), "nvenc");
    v->av1_encode = 1;
    CmeLeasePool pool;
    assert_int_equal(cme__lease_pool_init(&pool), 0);
    assert_int_equal(cme__discovery_fill_pool(d, &pool, 2, 4), 2);
    assert_int_equal(pool.nb_devices, 2);
    assert_string_equal(pool.devices[0].id, "cpu-svt");
    assert_int_equal(pool.devices[0].backend, CME_BACKEND_SVT);
    assert_int_equal(pool.devices[0].sessions, 2);
    assert_string_equal(pool.devices[1].id, "cpu-aom");
    assert_int_equal(pool.devices[1].backend, CME_BACKEND_AOM);
    cme__lease_pool_destroy(&pool);
    free(d);
}

#if CME_HAVE_NVENC && CME_HAVE_VAAPI
/* Recorded discovery of a machine with two AV1 NVIDIA GPUs (NVENC reports 8 sessions each),
 * an Intel GPU under VA-API (no session cap) and an NVIDIA GPU without AV1: every device that
 * can encode AV1 becomes a pool device with its session cap, its path (what the encoder
 * opens) and its limits; software devices get the caller's sessions. */
static void test_fill_pool_hardware(void **state)
{
    (void)state;
    CmeDiscovery *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    CmeDeviceInfo *v = cme__discovery_add(d);
    cme__nvenc_fill(v, 0, "NVIDIA GeForce RTX 4070", 1, 8192, 8192, 1);
    v->can_run = 1; /* as with an FFmpeg that has av1_nvenc */
    v = cme__discovery_add(d);
    cme__nvenc_fill(v, 1, "NVIDIA RTX 4000 Ada", 1, 8192, 8192, 1);
    v->can_run = 1;
    v = cme__discovery_add(d);
    cme__nvenc_fill(v, 2, "NVIDIA GeForce RTX 3060", 0, 0, 0, 0); /* no AV1: left out */
    v = cme__discovery_add(d);
    const VAConfigAttrib attrs[] = {
        { VAConfigAttribRTFormat, VA_RT_FORMAT_YUV420 | VA_RT_FORMAT_YUV420_10 },
        { VAConfigAttribMaxPictureWidth, 4096 },
        { VAConfigAttribMaxPictureHeight, 2304 },
    };
    cme__vaapi_fill(v, "/dev/dri/renderD128", "Intel iHD driver for Intel(R) Gen Graphics",
                    VAEntrypointEncSliceLP, attrs, 3);
    v->can_run = 1;
    v = cme__discovery_add(d);
    snprintf(v->id, sizeof(v->id), "cpu-svt");
    snprintf(v->backend, sizeof(v->backend), "svt");
    v->av1_encode = v->can_run = 1;
    v->max_width = 16384;
    v->max_height = 8704;

    CmeLeasePool pool;
    assert_int_equal(cme__lease_pool_init(&pool), 0);
    assert_int_equal(cme__discovery_fill_pool(d, &pool, 2, 4), 4);
    assert_int_equal(pool.nb_devices, 4);
    assert_string_equal(pool.devices[0].id, "nvenc:0");
    assert_int_equal(pool.devices[0].backend, CME_BACKEND_NVENC);
    assert_int_equal(pool.devices[0].sessions, 4); /* 8 reported, capped by the caller */
    assert_string_equal(pool.devices[0].path, "0");
    assert_int_equal(pool.devices[0].max_width, 8192);
    assert_int_equal(pool.devices[0].ten_bit, 1);
    assert_int_equal(pool.devices[0].midjob_open, 1);
    assert_string_equal(pool.devices[1].id, "nvenc:1");
    assert_string_equal(pool.devices[1].path, "1");
    assert_string_equal(pool.devices[2].id, "vaapi:renderD128");
    assert_int_equal(pool.devices[2].backend, CME_BACKEND_VAAPI);
    assert_int_equal(pool.devices[2].sessions, 4); /* no cap reported: the caller's */
    assert_string_equal(pool.devices[2].path, "/dev/dri/renderD128");
    assert_int_equal(pool.devices[2].max_width, 4096);
    assert_int_equal(pool.devices[2].max_height, 2304);
    assert_string_equal(pool.devices[3].id, "cpu-svt");
    assert_int_equal(pool.devices[3].sessions, 2);
    assert_int_equal(pool.devices[3].midjob_open, 0);
    /* A second fill (a second job of the process) adds nothing new. */
    assert_int_equal(cme__discovery_fill_pool(d, &pool, 2, 4), 4);
    assert_int_equal(pool.nb_devices, 4);
    cme__lease_pool_destroy(&pool);

    /* devices = "auto": the hardware devices only; { backend = "nvenc" }: both NVENC GPUs with
     * their cap of 8 (under a limit of 16). */
    CmeDevice out[8];
    char why[512];
    assert_int_equal(cme__discovery_select(d, NULL, 2, out, 8, why, sizeof(why)), 3);
    assert_string_equal(out[2].id, "vaapi:renderD128");
    assert_int_equal(out[2].sessions, 2);
    assert_int_equal(cme__discovery_select(d, "nvenc", 16, out, 8, why, sizeof(why)), 2);
    assert_int_equal(out[0].sessions, 8);
    assert_int_equal(out[1].sessions, 8);
    assert_int_equal(cme__discovery_select(d, "nvenc", 16, out, 1, why, sizeof(why)), 1);
    free(d);
}
#endif

/* Nothing discovered: the reason is each backend's own answer, and a GPU this build cannot
 * drive is named with its status. */
static void test_select_none(void **state)
{
    (void)state;
    CmeDiscovery *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    cme__discovery_note(d, "nvenc", 1, 0, "no NVENC device: libcuda not found");
    cme__discovery_note(d, "vaapi", 1, 0, "no VA-API device: no /dev/dri/renderD* node");
    CmeDeviceInfo *v = cme__discovery_add(d);
    snprintf(v->id, sizeof(v->id), "cpu-svt");
    snprintf(v->backend, sizeof(v->backend), "svt");
    v->av1_encode = v->can_run = 1;
    CmeDevice out[4];
    char why[512];
    assert_int_equal(cme__discovery_select(d, "nvenc", 8, out, 4, why, sizeof(why)), 0);
    assert_string_equal(why, "no nvenc device: no NVENC device: libcuda not found");
    assert_int_equal(cme__discovery_select(d, NULL, 8, out, 4, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "no nvenc device: no NVENC device: libcuda not found; "));
    assert_non_null(strstr(why, "no vaapi device: no VA-API device: no /dev/dri/renderD* node"));
    assert_non_null(strstr(why, "no qsv device: not discovered"));
    /* An AV1 GPU that this FFmpeg cannot drive (no av1_nvenc): named, with its status. */
    v = cme__discovery_add(d);
    snprintf(v->id, sizeof(v->id), "nvenc:0");
    snprintf(v->backend, sizeof(v->backend), "nvenc");
    snprintf(v->name, sizeof(v->name), "NVIDIA GeForce RTX 4070");
    snprintf(v->status, sizeof(v->status), "av1_nvenc: not in this FFmpeg build");
    v->av1_encode = 1;
    assert_int_equal(cme__discovery_select(d, "nvenc", 8, out, 4, why, sizeof(why)), 0);
    assert_string_equal(why, "no nvenc device: no NVENC device: libcuda not found (nvenc:0 NVIDIA "
                             "GeForce RTX 4070: av1_nvenc: not in this FFmpeg build)");
    /* A tiny buffer is cut, never overrun. */
    char small[8];
    assert_int_equal(cme__discovery_select(d, NULL, 8, out, 4, small, sizeof(small)), 0);
    assert_int_equal(strlen(small), 7);
    free(d);
}

/* Discovery on this machine: every backend has a line, software devices are listed, and
 * nothing crashes or prints when the GPU runtimes are missing. */
static void test_discover_here(void **state)
{
    (void)state;
    CmeDiscovery *d = malloc(sizeof(*d));
    assert_non_null(d);
    cme__devices_discover(d);
    static const char *const backends[] = { "svt", "aom", "rav1e", "nvenc", "qsv", "vaapi", "amf" };
    for (size_t b = 0; b < sizeof(backends) / sizeof(backends[0]); b++) {
        int found = 0;
        for (int i = 0; i < d->nb_notes; i++)
            if (!strcmp(d->notes[i].backend, backends[b]) && d->notes[i].status[0])
                found = 1;
        if (!found)
            fail_msg("no discovery line for %s", backends[b]);
    }
    int svt = 0;
    for (int i = 0; i < d->nb_devices; i++) {
        if (!strcmp(d->devices[i].id, "cpu-svt")) {
            svt = 1;
            assert_int_equal(d->devices[i].can_run, 1);
            assert_int_equal(d->devices[i].ten_bit, 1);
        }
        /* Every listed device says what it is and what works. */
        assert_true(d->devices[i].backend[0] && d->devices[i].status[0]);
    }
    assert_int_equal(svt, 1);
    int ffmpeg = 0;
    for (int i = 0; i < d->nb_notes; i++)
        if (!strcmp(d->notes[i].backend, "ffmpeg") && strstr(d->notes[i].status, "av1_nvenc"))
            ffmpeg = 1;
    assert_int_equal(ffmpeg, 1);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#if CME_HAVE_NVENC
        cmocka_unit_test(test_nvenc_guids_and_caps),
#endif
#if CME_HAVE_VAAPI
        cmocka_unit_test(test_vaapi_entrypoints),
        cmocka_unit_test(test_vaapi_attributes),
#endif
        cmocka_unit_test(test_vendor_strings),
#if CME_HAVE_ONEVPL
        cmocka_unit_test(test_vpl_implementation),
        cmocka_unit_test(test_vpl_params),
#endif
        cmocka_unit_test(test_fill_pool),
#if CME_HAVE_NVENC && CME_HAVE_VAAPI
        cmocka_unit_test(test_fill_pool_hardware),
#endif
        cmocka_unit_test(test_select_none),
        cmocka_unit_test(test_discover_here),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
