#!/usr/bin/env bash
# A short coverage-guided run of every fuzz target, D2G_FUZZ_SECONDS seconds each (default 5; 0: none):
# the standing suite's smoke run, which ./run-tests makes after the Maven tests.
#  - Jazzer: the methods annotated @FuzzTest under java/src/test/java, each in a Maven call of its own
#    (Jazzer fuzzes one target a JVM). A finding fails the run and is saved in the target's *Inputs folder
#    under java/src/test/resources, where every build then replays it; the corpus grows in
#    java/.cifuzz-corpus/ (git-ignored).
#  - libFuzzer: the C API targets of native/fuzz/c_api_fuzz.c, built with clang (-fsanitize=fuzzer,
#    address, undefined) against the tested library, $D2G_BUILD/native/libd2g.so (default build/): the
#    coverage that guides them is the harness's only (the library is not instrumented here: that build,
#    scripts/dev/fuzz-native.sh, takes ~25 minutes), so this is a smoke run; seeded from
#    native/fuzz/corpus/<target>/ (left unchanged), findings in $D2G_BUILD/fuzz-short/findings/<target>/.
#    Needs clang-14 with libFuzzer (apt-get install clang-14 libclang-rt-14-dev); skipped, with a note,
#    where there is none.
# The long runs (10^6 executions a target) are the README's Reliability section. Extra arguments go to Maven.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
seconds=${D2G_FUZZ_SECONDS:-5}
[[ $seconds =~ ^[0-9]+$ ]] || { echo "fuzz-short: D2G_FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2; exit 2; }
[ "$seconds" -gt 0 ] || { echo "fuzz-short: D2G_FUZZ_SECONDS=0, no fuzzing" >&2; exit 0; }
# Class#method for each @FuzzTest: the class from the file's name, the method from the next "void" line.
mapfile -t targets < <(grep -rl --include='*.java' '@FuzzTest' java/src/test/java | sort | while read -r f; do
  awk -v cls="$(basename "$f" .java)" '/@FuzzTest/ {want = 1; next}
    want && /void [A-Za-z0-9_]+\(/ {match($0, /void [A-Za-z0-9_]+\(/); print cls "#" substr($0, RSTART + 5, RLENGTH - 6); want = 0}' "$f"
done)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz-short: no @FuzzTest methods found under java/src/test/java" >&2; exit 1; }
logs=$(mktemp -d)
status=0
for t in "${targets[@]}"; do
  log="$logs/${t//#/.}.log"
  # jazzer.internal.arg.*: libFuzzer's own flags, which come after (and override) the annotation's limits.
  if JAZZER_FUZZ=1 mvn -B -ntp -Dstyle.color=never -pl java -am test -Dfuzz.only=true -Dfuzz.tests="$t" \
      -Dsurefire.failIfNoSpecifiedTests=false -Djazzer.internal.arg.0=fuzz \
      -Djazzer.internal.arg.1=-max_total_time="$seconds" "$@" > "$log" 2>&1; then
    echo "fuzz-short: $t: $(grep -ohE 'Done [0-9]+ runs in [0-9]+ second\(s\)' "$log" java/target/surefire-reports/*."${t%%#*}"-output.txt 2>/dev/null | head -1)" >&2
  else
    echo "fuzz-short: $t FAILED (a finding is saved in its Inputs folder under java/src/test/resources); the end of $log:" >&2
    sed 's/\x1b\[[0-9;]*m//g' "$log" | tail -40 >&2
    status=1
  fi
done
# libFuzzer on the C API.
build=${D2G_BUILD:-$root/build}
cc=$(command -v clang-14 || command -v clang || true)
if [ -z "$cc" ] || [ ! -f "$build/native/libd2g.so" ]; then
  echo "fuzz-short: native targets skipped (${cc:+no $build/native/libd2g.so}${cc:-no clang: apt-get install clang-14 libclang-rt-14-dev})" >&2
else
  out=$build/fuzz-short
  mkdir -p "$out"
  printf 'leak:libtorch\nleak:libc10\nleak:libgomp\nleak:libopenblas\nleak:libd2g\n' > "$out/lsan.supp"
  index=0
  for t in config tensor state optimizer augment step; do  # D2G_FUZZ_TARGET 1..6, as CMakeLists.txt numbers them
    index=$((index + 1))
    log="$logs/native-$t.log"
    if ! "$cc" -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DD2G_FUZZ_TARGET=$index \
        -I"$root/native/include" "$root/native/fuzz/c_api_fuzz.c" -L"$build/native" -ld2g -Wl,-rpath,"$build/native" \
        -o "$out/d2g_fuzz_$t" > "$log" 2>&1; then
      echo "fuzz-short: native targets skipped: $cc cannot build them (libFuzzer's runtime: apt-get install libclang-rt-14-dev):" >&2
      tail -5 "$log" >&2
      break
    fi
    corpus=$(mktemp -d) && mkdir -p "$out/findings/$t"
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions="$out/lsan.supp" \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$out/d2g_fuzz_$t" -max_total_time="$seconds" -max_len=512 \
        -rss_limit_mb=4096 -timeout=30 -artifact_prefix="$out/findings/$t/" "$corpus" "$root/native/fuzz/corpus/$t" \
        >> "$log" 2>&1; then
      echo "fuzz-short: native $t: $(grep -oE 'Done [0-9]+ runs in [0-9]+ second\(s\)' "$log" | tail -1)" >&2
    else
      echo "fuzz-short: native $t FAILED (the input: $out/findings/$t/; once fixed, copy it into native/fuzz/corpus/$t/); the end of $log:" >&2
      tail -40 "$log" >&2
      status=1
    fi
    rm -rf "$corpus"
  done
fi
[ $status = 0 ] && rm -rf "$logs"
exit $status
