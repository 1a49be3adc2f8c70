#!/bin/bash
# dracut module: puts node and slim-core into the kdump initramfs as one squashfs image, mounted read-only at /opt/slim-core.
# File pages of a squashfs are decompressed on demand and can be reclaimed: node fits in crashkernel=256M this way.
# shellcheck disable=SC2154 # initdir and moddir are set by dracut

# Where a production install of slim-core lives (npm install -g slim-core puts it in /usr/lib/node_modules/slim-core).
SLIMCORE_DIR=${SLIMCORE_DIR:-/usr/lib/node_modules/slim-core}

check() {
    require_binaries node mksquashfs || return 1
    [[ -f $SLIMCORE_DIR/dist/bin/slim-core.js ]] || return 1
    # Only for the kdump initramfs, when asked for: add_dracutmodules+=" slim-core " in /etc/kdump/dracut.conf or kdump.conf's dracut_args.
    return 255
}

depends() {
    echo kdumpbase
}

installkernel() {
    instmods loop squashfs
}

# The image's tree: node and every library ldd names, and slim-core's bundled CLI with its production node_modules.
slimcore_tree() {
    local tree=$1 node lib
    node=$(command -v node)
    mkdir -p "$tree/bin" "$tree/lib" "$tree/slim-core"
    cp -L "$node" "$tree/bin/node"
    for lib in $(ldd "$node" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
        [[ -f $lib ]] && cp -Ln "$lib" "$tree/lib/"
    done
    mkdir -p "$tree/slim-core/dist"
    cp "$SLIMCORE_DIR/package.json" "$tree/slim-core/"
    cp -r "$SLIMCORE_DIR/dist/bin" "$tree/slim-core/dist/"
    [[ -d $SLIMCORE_DIR/node_modules ]] && cp -r "$SLIMCORE_DIR/node_modules" "$tree/slim-core/"
    # The mmap reader's addon, where npm install built it: without it /proc/vmcore is read with read(2).
    local addon=native/build/Release/slimcore_mmap.node
    [[ -f $SLIMCORE_DIR/$addon ]] && install -D -m 755 "$SLIMCORE_DIR/$addon" "$tree/slim-core/$addon"
    return 0
}

install() {
    local tree
    tree=$(mktemp -d "${DRACUT_TMPDIR:-/var/tmp}/slim-core.XXXXXX") || return 1
    slimcore_tree "$tree" || return 1
    mksquashfs "$tree" "$initdir/slim-core.sqfs" -comp xz -all-root -noappend -quiet -no-progress || return 1
    rm -rf "$tree"
    inst_dir /opt/slim-core
    inst_simple "$moddir/slim-core-collector" /usr/bin/slim-core-collector
    inst_hook pre-pivot 00 "$moddir/mount-slim-core.sh"
    inst_multiple mount losetup
}
