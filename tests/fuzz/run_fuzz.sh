#!/usr/bin/env bash
# Builds tests/fuzz/fuzz_av1.c with clang and libFuzzer (+ ASan and UBSan) from the AV1
# sources and runs it for a bounded time over the seed corpus. The main project is built with
# gcc, so this compiles with clang directly instead of through CMake.
#
# Usage: run_fuzz.sh SOURCE_DIR WORK_DIR [SECONDS]
# The run's corpus grows in WORK_DIR/corpus (the seed directories in the source tree are only
# read); crash reproducers land in WORK_DIR/artifacts and fail the run.
set -euo pipefail
src=${1:?usage: run_fuzz.sh SOURCE_DIR WORK_DIR [SECONDS]}
work=${2:?usage: run_fuzz.sh SOURCE_DIR WORK_DIR [SECONDS]}
secs=${3:-30}
cc=${CME_FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "run_fuzz.sh: $cc not found; the fuzz targets need clang with libFuzzer" >&2
    exit 1
fi
mkdir -p "$work/corpus" "$work/artifacts"
bin="$work/fuzz_av1"
# Compile and link in one step so that a missing libFuzzer runtime fails here, loudly.
if ! "$cc" -g -O1 -std=c11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/engine/include" -I"$src/engine" \
    "$src"/engine/av1/*.c "$src/tests/fuzz/fuzz_av1.c" -o "$bin"; then
    echo "run_fuzz.sh: building with -fsanitize=fuzzer failed (is libclang-rt installed?)" >&2
    exit 1
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$src/tests/fuzz/corpus/av1" "$src/tests/fixtures/av1"
