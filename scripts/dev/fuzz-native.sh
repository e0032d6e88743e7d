#!/usr/bin/env bash
# libFuzzer on the C API's entry points that take bytes (native/fuzz/c_api_fuzz.c, six targets): the shim
# built with clang, coverage instrumentation, AddressSanitizer and UndefinedBehaviorSanitizer in its own
# folder (build-fuzz/), then each target fuzzed in turn. CPU only. From the repo root, after the set-up:
#   bash scripts/dev/fuzz-native.sh                 # 10^6 executions of each target
#   RUNS=20000 FUZZ_TARGETS="config step" bash scripts/dev/fuzz-native.sh
# Needs clang with libFuzzer: apt-get install clang-14 libclang-rt-14-dev (CC / CXX name another clang).
# Each target's corpus grows in build-fuzz/corpus/<target>/, seeded from native/fuzz/corpus/<target>/;
# a finding is saved as build-fuzz/findings/<target>/crash-* (or leak-*, timeout-*): once it is fixed,
# copy it into native/fuzz/corpus/<target>/, where every build's CTest replays it. Figures per target
# (executions, executions/s, coverage, findings) go to build-fuzz/fuzz-summary.json.
# Exit status: non-zero when a target found something.
set -uo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-1000000}
targets=${FUZZ_TARGETS:-config tensor state optimizer augment step}
cc=${CC:-$(command -v clang-14 || command -v clang)}
cxx=${CXX:-$(command -v clang++-14 || command -v clang++)}
[ -n "$cc" ] && [ -n "$cxx" ] || { echo "fuzz-native: clang not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }
mkdir -p build-fuzz
echo "fuzz-native: building build-fuzz/ with $cxx (log: build-fuzz/build.log; the first build takes a while)"
CC=$cc CXX=$cxx cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DD2G_FUZZ=ON > build-fuzz/build.log 2>&1 \
  || { tail -20 build-fuzz/build.log; exit 1; }
# shellcheck disable=SC2086
cmake --build build-fuzz -j"$(nproc)" --target $(printf 'd2g_fuzz_%s ' $targets) >> build-fuzz/build.log 2>&1 \
  || { grep -E 'error|Error' build-fuzz/build.log | head -20; exit 1; }
# LibTorch's own one-time allocations (thread pools, registries) are not ours: suppressed by library.
supp=$PWD/build-fuzz/lsan.supp; printf 'leak:libtorch\nleak:libc10\nleak:libgomp\nleak:libopenblas\n' > "$supp"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$supp UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
summary="{"
for t in $targets; do
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/findings/$t"
  log=build-fuzz/fuzz-$t.log
  echo "fuzz-native: $t, $runs executions (log: $log)"
  # -max_len bounds an input; -rss_limit_mb the process; -timeout one input (seconds).
  build-fuzz/native/d2g_fuzz_"$t" -runs="$runs" -max_len=512 -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/findings/$t/" "build-fuzz/corpus/$t" "native/fuzz/corpus/$t" > "$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -o '[0-9]*')
  found=$(find "build-fuzz/findings/$t" -type f | wc -l)
  echo "fuzz-native: $t rc=$rc executions=${execs:-?} per_s=${rate:-?} coverage=${cov:-?} findings=$found"
  [ "$rc" = 0 ] && [ "$found" = 0 ] || { status=1; tail -30 "$log"; }
  summary+="\"$t\": {\"executions\": ${execs:-null}, \"executions_per_s\": ${rate:-null}, \"coverage_edges\": ${cov:-null}, \"findings\": $found, \"exit\": $rc},"
done
echo "${summary%,}}" > build-fuzz/fuzz-summary.json
echo "fuzz-native: summary in build-fuzz/fuzz-summary.json"
exit $status
