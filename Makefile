# cmafeng — the README's two commands, and the Debian packages they need.
#
#   make demo   install what is missing, build, encode a generated clip to an AV1 ladder
#   make test   install what is missing, build, run every test (ctest)
#   make deps   install exactly the missing Debian packages (as root)
#   make build  configure + build only

BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCME_FUZZ=ON
DEMO_DIR ?= demo
# Packages the build, the tests and the demo use (Debian 12 names).
DEB_PACKAGES = build-essential cmake pkg-config clang clang-format libclang-rt-14-dev \
	luajit libluajit-5.1-dev lua-busted \
	libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev \
	ffmpeg libsvtav1enc-dev svt-av1 libdav1d-dev dav1d \
	libffmpeg-nvenc-dev libva-dev libvpl-dev libcmocka-dev time chromium nodejs mediainfo \
	libedit-dev tmux

.PHONY: all deps build demo test clean tsan format format-check

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing missing packages:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root to install:" $$missing >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "all Debian packages present"; \
	fi
	@# Debian's nodejs ships without npm (a separate package); NodeSource's includes it and
	@# conflicts with Debian's npm, so install npm only when no npm is on the PATH.
	@command -v npm >/dev/null || { \
		if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root to install npm" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm; }

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	@mkdir -p $(DEMO_DIR)
	@if [ ! -f $(DEMO_DIR)/source.mkv ]; then \
		echo "generating a 10 s 1280x720 25 fps clip with motion, noise and a stereo tone"; \
		ffmpeg -v error -y -f lavfi -i "testsrc2=s=1280x720:r=25:d=10,noise=alls=12:allf=t" \
			-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=10" \
			-filter_complex "[1:a]aformat=channel_layouts=stereo[a]" -map 0:v -map "[a]" \
			-c:v libx264 -preset veryfast -crf 16 -pix_fmt yuv420p -c:a aac -b:a 128k \
			-shortest $(DEMO_DIR)/source.mkv.tmp.mkv && mv $(DEMO_DIR)/source.mkv.tmp.mkv $(DEMO_DIR)/source.mkv; \
	fi
	$(BUILD)/cmafeng run recipes/abr_ladder.lua --overwrite -o $(DEMO_DIR)/out -- $(DEMO_DIR)/source.mkv

test: build
	cd $(BUILD) && ctest --output-on-failure -j1 $(CTEST_FLAGS)

clean:
	rm -rf $(BUILD) $(DEMO_DIR)

# The multi-worker tests under ThreadSanitizer (DESIGN.md section 6). Uninstrumented
# FFmpeg/SVT-AV1 internals are suppressed by tests/tsan.supp; our code stays checked.
# busted is left out: a TSan binary cannot be loaded into a plain luajit; so are the two
# recipe-layer tests that load cmafeng.core into luajit to resolve a recipe (`make test`
# runs them); the threaded per-title probes run under TSan in test_per_title_devices, and
# scene chunking runs on the policy thread only.
TSAN_BUILD ?= build-tsan
tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCME_SANITIZE=thread
	cmake --build $(TSAN_BUILD) -j$(JOBS)
	cd $(TSAN_BUILD) && TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" \
		ctest --output-on-failure -j1 -L 'unit|e2e' -E 'e2e\.test_(per_title|scene_chunks)$$'

# One formatter (.clang-format, clang-format 14); CI fails on unformatted C.
C_SOURCES = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(C_SOURCES)
format-check: deps
	clang-format --dry-run --Werror $(C_SOURCES)
