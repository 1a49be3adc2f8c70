#!/usr/bin/env bash
# The quick start's main job: capture the bundled sample dump as a slim and a full dump, then inspect both.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -x dist/src/cli/main.js ]] || npm run --silent build
mkdir -p out
slim_core() { npx --no-install slim-core "$@"; }
sample=samples/vmcore-6.1-sample.elf.gz
log=samples/vmcore-6.1-mce.log

echo "== 1. auto mode, from a pipe, with the machine check the dead kernel printed ($log)"
# slim-core stops reading once the notes are in, so zcat is cut short by SIGPIPE: that is expected.
{ zcat "$sample" 2>/dev/null || true; } | slim_core --faults "$log" -o out/sample.slim.elf
echo
echo "== 2. full mode: every byte of memory, except the poisoned page, which is zero-filled and listed"
zcat "$sample" > out/sample.elf
slim_core out/sample.elf --mode full --faults "$log" -o out/sample.full.elf
echo
echo "== 3. what the slim dump says"
slim_core inspect out/sample.slim.elf
echo
echo "== 4. what the full dump says"
slim_core inspect out/sample.full.elf
echo
ls -l out/sample.elf out/sample.slim.elf out/sample.full.elf
