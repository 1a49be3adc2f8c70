#!/bin/sh
# Builds the mmap reader's addon (native/) with node-gyp and Node's own headers; never fails the install.
# Without it slim-core reads with read(2) and says so once per capture.
cd "$(dirname "$0")/../native" || exit 0
nodedir=$(node -p 'require("path").resolve(process.execPath, "../..")')
if [ ! -f "$nodedir/include/node/node_api.h" ]; then
  echo "slim-core: not building the mmap addon: no Node headers in $nodedir/include/node (slim-core will read with read(2))" >&2
  exit 0
fi
# npm puts its own node-gyp on PATH for install scripts; by hand, use npm's copy.
if command -v node-gyp >/dev/null 2>&1; then gyp=node-gyp
else gyp="node $(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/node_modules/node-gyp/bin/node-gyp.js"
fi
if ! $gyp rebuild --nodedir="$nodedir" --loglevel=warn >build.log 2>&1; then
  echo "slim-core: the mmap addon did not build (native/build.log); slim-core will read with read(2)" >&2
fi
exit 0
