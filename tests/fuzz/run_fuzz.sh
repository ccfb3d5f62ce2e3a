#!/usr/bin/env bash
# Builds a libFuzzer target (tests/fuzz/fuzz_TARGET.c) with clang (+ ASan and UBSan) from the
# engine sources it needs and runs it for a bounded time over its seed corpus. The main
# project is built with gcc, so this compiles with clang directly instead of through CMake.
#
# Usage: run_fuzz.sh SOURCE_DIR WORK_DIR [SECONDS] [TARGET]
#   TARGET av1 (default): the AV1 bitstream layer, seeded from the .obu fixtures.
#   TARGET mp4: the ISO BMFF reader and `inspect`, seeded from the .obu fixtures and, when
#               ffmpeg is installed, MP4, fragmented MP4 and IVF files remuxed from them.
# The run's corpus grows in WORK_DIR/corpus (the seed directories in the source tree are only
# read); crash reproducers land in WORK_DIR/artifacts and fail the run.
set -euo pipefail
src=${1:?usage: run_fuzz.sh SOURCE_DIR WORK_DIR [SECONDS] [TARGET]}
work=${2:?usage: run_fuzz.sh SOURCE_DIR WORK_DIR [SECONDS] [TARGET]}
secs=${3:-30}
target=${4:-av1}
cc=${CME_FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "run_fuzz.sh: $cc not found; the fuzz targets need clang with libFuzzer" >&2
    exit 1
fi
mkdir -p "$work/corpus" "$work/artifacts" "$work/seeds"
seeds=("$src/tests/fixtures/av1")
case $target in
av1)
    sources=("$src"/engine/av1/*.c)
    seeds+=("$src/tests/fuzz/corpus/av1")
    max_len=4096
    ;;
mp4)
    sources=("$src"/engine/av1/*.c "$src/engine/mux/mp4_reader.c" "$src/engine/mux/inspect.c"
        "$src/engine/core/file.c" "$src/engine/core/errf.c")
    max_len=16384
    if command -v ffmpeg >/dev/null 2>&1; then
        for f in "$src"/tests/fixtures/av1/svt_8bit_bt709.obu "$src"/tests/fixtures/av1/aom_10bit_hlg.obu; do
            n=$(basename "$f" .obu)
            ffmpeg -v error -y -i "$f" -c copy "$work/seeds/$n.mp4" || true
            ffmpeg -v error -y -i "$f" -c copy -movflags frag_keyframe+empty_moov+default_base_moof \
                "$work/seeds/$n.frag.mp4" || true
            ffmpeg -v error -y -i "$f" -c copy "$work/seeds/$n.ivf" || true
            # A sidx before the fragments, as in a DASH on-demand file.
            ffmpeg -v error -y -i "$f" -c copy \
                -movflags frag_keyframe+empty_moov+default_base_moof+global_sidx \
                "$work/seeds/$n.sidx.mp4" || true
        done
        # Audio and text tracks: AAC and Opus, progressive and fragmented, and mov_text.
        for codec in aac libopus; do
            ffmpeg -v error -y -f lavfi -i sine=d=0.1 -ac 2 -c:a $codec "$work/seeds/$codec.mp4" || true
            ffmpeg -v error -y -f lavfi -i sine=d=0.1 -ac 6 -c:a $codec \
                -movflags frag_keyframe+empty_moov+default_base_moof "$work/seeds/$codec.frag.mp4" || true
        done
        printf '1\n00:00:00,000 --> 00:00:00,500\nhello\n' >"$work/seeds/sub.srt"
        ffmpeg -v error -y -i "$work/seeds/sub.srt" -c:s mov_text "$work/seeds/text.mp4" || true
        rm -f "$work/seeds/sub.srt"
    fi
    seeds+=("$work/seeds")
    ;;
*)
    echo "run_fuzz.sh: unknown target $target (av1, mp4)" >&2
    exit 1
    ;;
esac
bin="$work/fuzz_$target"
# Compile and link in one step so that a missing libFuzzer runtime fails here, loudly.
if ! "$cc" -g -O1 -std=c11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/engine/include" -I"$src/engine" \
    "${sources[@]}" "$src/tests/fuzz/fuzz_$target.c" -o "$bin"; then
    echo "run_fuzz.sh: building with -fsanitize=fuzzer failed (is libclang-rt installed?)" >&2
    exit 1
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$bin" -max_total_time="$secs" -max_len="$max_len" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "${seeds[@]}"
