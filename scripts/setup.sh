# Sourced by ./d2g and ./run-tests: finds or installs what the project needs, then builds what is
# missing. On a fresh Debian machine, as root, it installs packages itself; otherwise it prints the
# exact command to run. Everything it builds goes under build/ (native) and */target (Java).
set -euo pipefail
D2G_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

d2g_say() { echo "d2g: $*" >&2; }
d2g_die() { echo "d2g: $*" >&2; exit 1; }

d2g_apt_install() { # packages...
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    d2g_say "installing $* (apt-get)"
    if [ ! -f /tmp/.d2g-apt-updated ]; then apt-get update -qq >/dev/null && touch /tmp/.d2g-apt-updated; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    d2g_die "missing $*; install with: sudo apt-get install -y $*"
  fi
}

# Java 25: $JAVA_HOME if it is 25 or newer, else a JDK 25 in the usual places (Debian and Ubuntu
# have no package for it: see the README's "Getting Java 25").
d2g_java_ok() { [ -x "$1/bin/java" ] && [ "$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/ *java.specification.version = //p')" -ge 25 ] 2>/dev/null; }
if [ -z "${JAVA_HOME:-}" ] || ! d2g_java_ok "$JAVA_HOME"; then
  JAVA_HOME=""
  for j in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25-* /usr/lib/jvm/jdk-25* \
      /opt/jdk-25* /opt/java/jdk-25* "$HOME"/.jdks/*25* "$HOME"/.sdkman/candidates/java/25*; do
    if d2g_java_ok "$j"; then JAVA_HOME=$j; break; fi
  done
  [ -n "$JAVA_HOME" ] || d2g_die "Java 25 not found (Debian has no package for it). Install Temurin 25 from Adoptium:
  curl -fL https://api.adoptium.net/v3/binary/latest/25/ga/linux/x64/jdk/hotspot/normal/eclipse -o /tmp/jdk25.tar.gz
  sudo mkdir -p /opt/jdk-25 && sudo tar -xzf /tmp/jdk25.tar.gz -C /opt/jdk-25 --strip-components=1
then run this again (it finds /opt/jdk-25), or set JAVA_HOME to any JDK 25. Other ways: README, 'Getting Java 25'."
fi
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"

command -v cmake >/dev/null || d2g_apt_install cmake
command -v g++ >/dev/null || d2g_apt_install g++
command -v mvn >/dev/null || d2g_apt_install maven

# LibTorch: an explicit Torch_DIR / CMAKE_PREFIX_PATH, a Python torch, or Debian's libtorch-dev.
d2g_have_torch() {
  [ -n "${Torch_DIR:-}" ] && return 0
  [ -n "${CMAKE_PREFIX_PATH:-}" ] && return 0
  python3 -c 'import torch' >/dev/null 2>&1 && return 0
  for f in /usr/lib/*/cmake/Torch/TorchConfig.cmake /usr/share/cmake/Torch/TorchConfig.cmake; do
    [ -f "$f" ] && return 0
  done
  return 1
}
d2g_have_torch || d2g_apt_install libtorch-dev

# Debian's LibTorch does its CPU matrix products in whatever libblas.so.3 points at, by default the
# reference BLAS (netlib): ~50x slower than OpenBLAS on every linear layer and attention product.
d2g_blas=$(readlink -f "$(/sbin/ldconfig -p 2>/dev/null | awk '/libblas\.so\.3 /{print $NF; exit}')" 2>/dev/null || true)
if [[ $d2g_blas == */blas/libblas.so.3* ]]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    d2g_apt_install libopenblas0-pthread
  else
    d2g_say "LibTorch's CPU matrix products use the slow reference BLAS; for ~50x faster ones:"
    d2g_say "  sudo apt-get install -y libopenblas0-pthread"
  fi
fi

# Gloo's headers, for data-parallel training on CPUs (Debian's LibTorch has Gloo compiled in, but
# its c10d headers include Gloo's). Without them the build has no "gloo" backend and says so.
if [ -f /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake ] && [ ! -f /usr/include/gloo/context.h ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    d2g_apt_install libgloo-dev
  else
    d2g_say "for data-parallel training on CPUs install Gloo's headers: sudo apt-get install -y libgloo-dev"
  fi
fi

# Native shim: configure once, then incremental builds (fast when nothing changed).
D2G_BUILD=${D2G_BUILD:-$D2G_ROOT/build}
mkdir -p "$D2G_BUILD"
if [ ! -f "$D2G_BUILD/CMakeCache.txt" ]; then
  d2g_say "configuring the native shim in $D2G_BUILD"
  cmake -S "$D2G_ROOT" -B "$D2G_BUILD" -DCMAKE_BUILD_TYPE=Release >"$D2G_BUILD/configure.log" 2>&1 \
    || { cat "$D2G_BUILD/configure.log" >&2; d2g_die "cmake configure failed (log above)"; }
  grep 'd2g: LibTorch' "$D2G_BUILD/configure.log" | sed 's/^-- //' >&2 || true
  d2g_say "building the native shim: a few minutes the first time (log: $D2G_BUILD/build.log)"
fi
# Progress: one line per file compiled ("[ 42%] tensor.cpp"), rewritten in place on a terminal.
d2g_progress() {
  local tty=0 shown=0; [ -t 2 ] && tty=1
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$D2G_BUILD/build.log"
    if [[ $line =~ ^\[\ *([0-9]+)%\]\ (Building|Linking)\ [A-Za-z+]+\ (object|shared\ library|executable)\ (.*)$ ]]; then
      local what=${BASH_REMATCH[4]##*/}; what=${what%.o}
      if [ $tty = 1 ]; then printf '\rd2g:   [%3s%%] %-60.60s' "${BASH_REMATCH[1]}" "$what" >&2; shown=1
      else printf 'd2g:   [%3s%%] %s\n' "${BASH_REMATCH[1]}" "$what" >&2; fi
    fi
  done
  [ $shown = 1 ] && printf '\n' >&2
  return 0
}
: >"$D2G_BUILD/build.log"
if ! cmake --build "$D2G_BUILD" -j"$(nproc)" 2>&1 | d2g_progress; then  # pipefail: cmake's status
  tail -50 "$D2G_BUILD/build.log" >&2; d2g_die "native build failed (log: $D2G_BUILD/build.log)"
fi

# Maven 3.8's Guava warns about sun.misc.Unsafe on Java 25; that is noise, not ours.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
D2G_MVN="mvn -B -q -ntp -Dstyle.color=never -Dd2g.native.dir=$D2G_BUILD/native"
