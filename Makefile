# Two commands do all set-up on a fresh Debian 12 machine (as root or with sudo):
#   make run    installs what is missing, builds the server and starts it on 127.0.0.1:8080
#   make test   installs what is missing, builds everything under ASan+UBSan and runs all tests
# Both build incrementally with CMake + Ninja.

DEB_PACKAGES := cmake ninja-build g++ clang libclang-rt-14-dev rapidjson-dev libboost-dev libboost-context-dev \
                doctest-dev libsqlite3-dev libssl-dev libexpat1-dev libre2-dev xz-utils
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN_ARGS ?=
# ccache, when the machine has it, makes rebuilds in a second build directory cheap.
LAUNCHER := $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

.PHONY: deps run build test test-build fuzz bench bench-rest clean

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Release build with GCC (-Werror).
build/release/build.ninja: | deps
	cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ $(LAUNCHER) \
	  -DCMAKE_CXX_FLAGS_RELEASE="-O3 -DNDEBUG -Wno-restrict" -DFHIR_TESTS=OFF
	@# -Wno-restrict: GCC 12 at -O3 reports std::string operator+ as overlapping (a false positive).

build: deps build/release/build.ninja
	cmake --build build/release

run: build
	./build/release/server/fhir-server $(RUN_ARGS)

# Test build: Clang with AddressSanitizer + UndefinedBehaviorSanitizer (-Werror), plus the
# libFuzzer target that ctest runs briefly.
build/test/build.ninja: | deps
	cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" \
	  -DCMAKE_CXX_COMPILER=clang++ -DFHIR_SANITIZE=ON -DFHIR_FUZZ=ON $(LAUNCHER)

test-build: deps build/test/build.ninja
	cmake --build build/test

test: test-build
	cd build/test && ctest --output-on-failure

bench: build
	./build/release/tools/fhir-bench $(BENCH_ARGS)

# The REST benchmark of issue #3 (tools/bench/rest_bench.sh, needs wrk and curl): read, create
# and Synthea ingest over loopback against fhir-ref-server, e.g. REST_BENCH_ARGS="--rounds 3".
bench-rest: build
	@command -v wrk >/dev/null && command -v curl >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends wrk curl; }
	tools/bench/rest_bench.sh --build build/release $(REST_BENCH_ARGS)

clean:
	rm -rf build
