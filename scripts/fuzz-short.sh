#!/usr/bin/env bash
# A short coverage-guided run of every Jazzer fuzz target (the methods annotated @FuzzTest under
# java/src/test/java), D2G_FUZZ_SECONDS seconds each (default 5; 0: none): the standing suite's smoke
# run, which ./run-tests makes after the Maven tests. Each target runs in a Maven call of its own (Jazzer
# fuzzes one target a JVM). A finding fails the run and is saved in the target's *Inputs folder under
# java/src/test/resources, where every build then replays it; the corpus grows in java/.cifuzz-corpus/
# (git-ignored). The long runs (10^6 executions a target) are the README's Reliability section.
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
[ $status = 0 ] && rm -rf "$logs"
exit $status
