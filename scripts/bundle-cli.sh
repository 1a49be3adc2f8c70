#!/bin/sh
# Bundles the CLI into dist/bin/: slim-core.js (the options and yargs) and chunks/ that each command imports when it runs.
# Left outside, resolved from node_modules at run time: snappy (a native prebuilt), @bokuweb/zstd-wasm (reads its .wasm
# beside itself) and @aws-sdk/* (large; loaded only for s3://). The mmap addon is found from package.json upward.
# The kdump compressor's worker is an entry of its own, beside the chunks: the pool starts it from ./compress-worker.js.
# string-width (yargs' and cliui's) is replaced by src/cli/text-width.ts: it builds Intl.Segmenters when loaded.
set -e
cd "$(dirname "$0")/.."
rm -rf dist/bin
npx --no-install esbuild slim-core=src/cli/main.ts chunks/compress-worker=src/kdump/compress-worker.ts --bundle --splitting --format=esm --platform=node --target=node20 \
  --outdir=dist/bin --chunk-names='chunks/[name]-[hash]' \
  --external:snappy --external:@bokuweb/zstd-wasm '--external:@aws-sdk/*' --alias:string-width=./src/cli/text-width.ts \
  --metafile=dist/bin-meta.json --log-level=warning
chmod +x dist/bin/slim-core.js
