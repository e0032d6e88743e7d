#!/usr/bin/env bash
# Regenerates the FFM bindings in bindings/src/main/java from native/include/d2g.h with jextract.
# jextract is not in any package registry: build it from its public source (openjdk/jextract) outside
# this repository and put it on the PATH or set JEXTRACT. Run from anywhere:
#   JEXTRACT=/opt/jextract/bin/jextract bindings/regenerate.sh
# Only our own symbols are kept: the include filters (bindings/includes.args) are every d2g_/D2G_
# name that jextract's --dump-includes finds in the header. Commit the generated code and both
# argument files.
set -euo pipefail
cd "$(dirname "$0")/.."
JEXTRACT=${JEXTRACT:-jextract}
tmp=$(mktemp)
"$JEXTRACT" --dump-includes "$tmp" native/include/d2g.h >/dev/null
grep -E -- '^--include-[a-z]+ +(d2g_|D2G_)' "$tmp" | sed 's/ *#.*//' | sort -u > bindings/includes.args
rm -f "$tmp"
rm -rf bindings/src/main/java/io/d2g/bindings
"$JEXTRACT" @bindings/jextract.args @bindings/includes.args native/include/d2g.h
echo "regenerated $(ls bindings/src/main/java/io/d2g/bindings | wc -l) files from native/include/d2g.h"
