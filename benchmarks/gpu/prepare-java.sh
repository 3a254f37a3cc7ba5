#!/usr/bin/env bash
# Bundles what the Java CUDA tests need into build/java-gpu (ignored by git) so a GPU session can
# carry it (device tool: carry ["build/java-gpu"]) and check.sh runs the tests there without
# Maven: compiled classes (with the JNI library built here by nvcc), test classes, and the runtime
# and JUnit jars, without libtorch's and OpenBLAS's native jars (too large to travel; the CUDA
# tests do not use them).
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -q -o test-compile package -DskipTests
dest=build/java-gpu
rm -rf "$dest"
mkdir -p "$dest/lib"
cp -r target/classes "$dest/classes"
cp -r target/test-classes "$dest/test-classes"
mvn -q -o dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$dest/cp.txt"
tr ':' '\n' <"$dest/cp.txt" | grep -vE 'pytorch-.*-linux-x86_64\.jar|openblas-.*-linux-x86_64\.jar' |
  while read -r jar; do [[ -n "$jar" ]] && cp "$jar" "$dest/lib/"; done
# The launcher (not a test dependency) in the same version as the platform engine Maven resolved.
engine=$(basename "$(ls "$dest"/lib/junit-platform-engine-*.jar)")
version=${engine#junit-platform-engine-}
version=${version%.jar}
if [[ -z "$(ls "$dest"/lib/junit-platform-launcher-*.jar 2>/dev/null)" ]]; then
  launcher=~/.m2/repository/org/junit/platform/junit-platform-launcher/$version/junit-platform-launcher-$version.jar
  [[ -f "$launcher" ]] || mvn -q dependency:get -Dartifact="org.junit.platform:junit-platform-launcher:$version"
  cp "$launcher" "$dest/lib/"
fi
du -sh "$dest"
