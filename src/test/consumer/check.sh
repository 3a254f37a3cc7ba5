#!/usr/bin/env bash
# The artifact as a consumer sees it. Run after `mvn install` of the library: resolves this
# project's runtime class path, fails if it holds libtorch, OpenBLAS, the CLI, plotting, progress-bar,
# tokenizer, template or test libraries, prints its size, and runs the kernels-only and fitting-only programs on it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="${1:-$(sed -n 's:^  <version>\(.*\)</version>:\1:p' "$here/../../../pom.xml" | head -1)}"
cp_file="$here/target/runtime-classpath.txt"
mvn -B -ntp -q -f "$here/pom.xml" -Dfitprune.version="$version" package dependency:build-classpath \
  -Dmdep.outputFile="$cp_file" -Dmdep.includeScope=runtime
cp="$(cat "$cp_file")"
jars="$(tr ':' '\n' <"$cp_file" | xargs -n1 basename)"
if bad="$(grep -Ei 'pytorch|openblas|picocli|xchart|pdfbox|progressbar|jline|junit|opentest4j|tokenizers-|djl|jinjava' <<<"$jars")"; then
  echo "consumer runtime class path holds jars it must not:" >&2
  echo "$bad" >&2
  exit 1
fi
bytes="$(tr ':' '\n' <"$cp_file" | xargs du -cb | tail -1 | cut -f1)"
echo "consumer runtime class path: $(wc -l <<<"$jars") jars, $bytes bytes: $(tr '\n' ' ' <<<"$jars")"
java -cp "$here/target/classes:$cp" consumer.KernelsOnly
java -cp "$here/target/classes:$cp" consumer.FittingOnly
