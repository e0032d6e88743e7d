#!/usr/bin/env bash
# Builds what the GPU calls run and packs it into .gpu/ (../shared/gpu/pack): the examples jar and its
# runtime dependencies, less the jars no GPU run loads (the dataset builder's npm and archive readers),
# so that .gpu + the emoji dataset + diffusers' source fit the 64 MiB a call carries; and the prompts
# of the evaluation's real-picture rows (runs/eval/*/samples.jsonl, when there) for teacher_session.sh.
# From the repo root:  bash scripts/gpu/pack.sh   then   ../shared/gpu/slim on test/ models/ docs/
set -euo pipefail
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64} MAVEN_OPTS=${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}
mvn=(mvn -B -q -o -ntp -Dstyle.color=never)
"${mvn[@]}" -pl bindings,java,examples install -DskipTests -Dd2g.native.dir="$PWD/build/native"
rm -rf examples/target/dependency
"${mvn[@]}" -pl examples dependency:copy-dependencies -DincludeScope=runtime
../shared/gpu/pack examples/target/d2g-examples-0.1.0-SNAPSHOT.jar examples/target/dependency
for jar in commons-compress commons-codec commons-io commons-lang3; do rm -f .gpu/lib/"$jar"-*.jar; done
# the SD1.5 preset configs, for the reference scripts of calls that leave java/ out (D2G_PRESETS)
mkdir -p .gpu/presets && cp java/src/main/resources/io/d2g/models/presets/sd15/*.json .gpu/presets/
mkdir -p .gpu/prompts
for row in real real-heldout; do
  [ -f "runs/eval/$row/samples.jsonl" ] && cp "runs/eval/$row/samples.jsonl" ".gpu/prompts/$row.jsonl"
done
# WITH_DATA=1: the emoji dataset inside .gpu (its shards hard-linked, its text files in one xz tarball,
# ~2.5 MB less than carrying data/), for calls whose carry has no room for data/ beside .gpu; the device
# command unpacks it with: mkdir -p data/emoji-64 && mv .gpu/data/* data/emoji-64/ && tar -C data/emoji-64 -xJf .gpu/data-meta.tar.xz
# Jars that no GPU run loads (SVG, WebP, the FD's linear algebra) are left out then as well.
rm -rf .gpu/data .gpu/data-meta.tar.xz
if [ "${WITH_DATA:-0}" = 1 ]; then
  mkdir -p .gpu/data && ln data/emoji-64/images-*.bin .gpu/data/
  (cd data/emoji-64 && tar -cJf ../../.gpu/data-meta.tar.xz --exclude='images-*.bin' .)
  for jar in jsvg imageio-webp ejml-core ejml-ddense; do rm -f .gpu/lib/"$jar"-*.jar; done
fi
du -sh .gpu
