#!/usr/bin/env bash
# The native shim under AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer included), in its
# own build folder (build-asan/): the C API tests (CTest), then the Java library's tests against that
# build (the JVM preloads libasan; leak checking is off there, since the JVM itself is not instrumented).
# CPU only. From the repo root, after the set-up (./run-tests once):
#   bash scripts/dev/sanitizers.sh            # both
#   JAVA_TESTS=0 bash scripts/dev/sanitizers.sh   # the C API tests only (a few minutes)
# Extra arguments go to Maven (e.g. -Dtest='Tensor*'). Exit status: non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/../.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64} MAVEN_OPTS=${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}
mkdir -p build-asan
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DD2G_SANITIZE=ON > build-asan/build.log 2>&1
echo "sanitizers: building build-asan/ (log: build-asan/build.log)"
cmake --build build-asan -j"$(nproc)" --target d2g d2g_c_api_test >> build-asan/build.log 2>&1 || { tail -20 build-asan/build.log; exit 1; }
echo "sanitizers: C API tests"
# LibTorch's own one-time allocations (thread pools, registries) are not ours: suppressed by library.
supp=$(mktemp); printf 'leak:libtorch\nleak:libc10\nleak:libgomp\nleak:libopenblas\n' > "$supp"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$supp UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure
if [ "${JAVA_TESTS:-1}" = 1 ]; then
  echo "sanitizers: Java tests against build-asan/native"
  LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so) \
  ASAN_OPTIONS=detect_leaks=0:handle_segv=0:allow_user_segv_handler=1:use_sigaltstack=0:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    mvn -B -q -o -ntp -Dstyle.color=never -pl java test -Dd2g.native.dir="$PWD/build-asan/native" "$@" 2>&1 \
    | sed -u 's/\x1b\[[0-9;]*m//g' | tail -40
fi
echo "sanitizers: clean"
