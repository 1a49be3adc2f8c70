#!/usr/bin/env bash
# The quick start's main job: capture the bundled sample dump as a slim and a full dump, then inspect both.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -x dist/bin/slim-core.js ]] || npm run --silent build
mkdir -p out
slim_core() { npx --no-install slim-core "$@"; }
sample=samples/vmcore-6.1-sample.elf.gz

echo "== 1. the main job: auto mode, from a pipe, no hints"
echo "   (slim-core finds the fatal machine check in the dead kernel's log and writes a slim dump;"
echo "    it stops reading once it has what it needs, so zcat is cut short by SIGPIPE: that is expected)"
{ zcat "$sample" 2>/dev/null || true; } | slim_core -o out/sample.slim.elf
echo
echo "== 2. full mode: every byte of memory, except the poisoned page, which is zero-filled and listed"
zcat "$sample" > out/sample.elf
slim_core out/sample.elf --mode full -o out/sample.full.elf
echo
echo "== 3. what the slim dump says"
slim_core inspect out/sample.slim.elf
echo
echo "== 4. what the full dump says"
slim_core inspect out/sample.full.elf
echo
echo "== 5. the end of the crashed kernel's log, read back from the slim dump"
slim_core dmesg out/sample.slim.elf | tail -n 8
echo
ls -l out/sample.elf out/sample.slim.elf out/sample.full.elf
