#!/usr/bin/env bash
# Builds the boot-to-dump guest (Debian's current kernel, initramfs images, a busybox root disk) into a cache outside the repo.
# Usage: build.sh CACHE_DIR REPO_DIR; prints the directory holding vmlinuz, first.img, root.ext4 and release.
set -euo pipefail
cache=$1 repo=$(cd "$2" && pwd)
lab=$repo/test/kdump-lab
mkdir -p "$cache"
log() { echo "kdump-lab: $*" >&2; }

# The kernel that apt offers today: the dependency of the linux-image-amd64 metapackage.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [[ -z "$kpkg" ]]; then
  apt-get update -qq >&2
  kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
fi
[[ -n "$kpkg" ]] || { log "apt offers no linux-image-amd64 dependency"; exit 1; }
release=${kpkg#linux-image-}
kdir=$cache/kernel-$release
if [[ ! -f $kdir/done ]]; then
  log "downloading $kpkg"
  rm -rf "$kdir" && mkdir -p "$kdir/dl"
  (cd "$kdir/dl" && apt-get download "$kpkg" >&2 2>/dev/null) || (cd "$kdir/dl" && apt-get update -qq >&2 && apt-get download "$kpkg" >&2)
  dpkg-deb -x "$kdir"/dl/*.deb "$kdir/root"
  depmod -b "$kdir/root" "$release"
  rm -rf "$kdir/dl" && touch "$kdir/done"
fi
kroot=$kdir/root
moddir=$kroot/lib/modules/$release

# Everything the images are made of decides whether they are rebuilt.
key=$( { echo "$release"; sha256sum "$(command -v node)" /usr/sbin/kexec /usr/bin/makedumpfile "$lab"/*.sh "$repo/package-lock.json";
         find "$repo/dist/bin" "$repo/integration/debian" -type f -print0 | sort -z | xargs -0 sha256sum
         sha256sum "$repo/native/build/Release/slimcore_mmap.node" 2>/dev/null || true; } | sha256sum | cut -c1-16)
out=$cache/images-$release-$key
if [[ -f $out/done ]]; then echo "$out"; exit 0; fi
log "building images in $out"
rm -rf "$out" && mkdir -p "$out"
work=$(mktemp -d "$cache/work-XXXXXX")
trap 'rm -rf "$work"' EXIT

# Copies executables and every library ldd lists into DEST/bin and DEST/lib.
copy_with_libs() {
  local dest=$1; shift
  mkdir -p "$dest/bin" "$dest/lib"
  for exe in "$@"; do
    cp -L "$exe" "$dest/bin/"
    ldd "$exe" | awk '/=>/{print $3} /ld-linux/{print $1}' | while read -r lib; do [[ -f $lib ]] && cp -Ln "$lib" "$dest/lib/"; done
  done
}

# /opt: node, slim-core (the bundled CLI and the mmap addon), makedumpfile and vmcore-dmesg, with their libraries.
opt=$work/opt
copy_with_libs "$opt" "$(command -v node)" /usr/bin/makedumpfile /usr/sbin/vmcore-dmesg
mkdir -p "$opt/slim-core/dist"
cp "$repo/package.json" "$opt/slim-core/"
cp -r "$repo/dist/bin" "$opt/slim-core/dist/"
# Only the bundle's externals that a capture kernel may use (--format kdump's snappy and zstd); not the S3 SDK.
(cd "$repo" && for m in node_modules/snappy node_modules/@napi-rs/snappy-* node_modules/@bokuweb/zstd-wasm; do
  [[ -d $m ]] && mkdir -p "$opt/slim-core/$(dirname "$m")" && cp -r "$m" "$opt/slim-core/$m"; done)
# The mmap reader's addon, when npm install built it: without it the capture kernel reads /proc/vmcore with read(2).
addon=native/build/Release/slimcore_mmap.node
[[ -f $repo/$addon ]] && install -D -m 755 "$repo/$addon" "$opt/slim-core/$addon"
cat > "$opt/bin/slim-core" <<'SH'
#!/bin/sh
LD_LIBRARY_PATH=/opt/lib exec /opt/bin/node /opt/slim-core/dist/bin/slim-core.js "$@"
SH
chmod +x "$opt/bin/slim-core"

# base: busybox, the init script and the modules both kernels need; the same archive starts every initramfs.
base=$work/base
mkdir -p "$base"/{bin,sbin,proc,sys,dev,tmp,opt,mnt,root,lib64,lib/modules/"$release"}
cp /bin/busybox "$base/bin/busybox"
for applet in $(/bin/busybox --list); do [[ $applet == busybox ]] || ln -sf busybox "$base/bin/$applet"; done
ln -sf ../bin/busybox "$base/sbin/modprobe"
ln -sf /opt/lib/ld-linux-x86-64.so.2 "$base/lib64/ld-linux-x86-64.so.2"
cp "$lab/init.sh" "$base/init" && chmod +x "$base/init"
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk loop squashfs crc16 mbcache jbd2 crc32c_generic ext4 qemu_fw_cfg; do
  f=$(modinfo -b "$kroot" -k "$release" -n "$m")
  mkdir -p "$base/lib/modules/$release/$(dirname "${f#"$moddir"/}")"
  cp "$f" "$base/lib/modules/$release/${f#"$moddir"/}"
done
cp "$moddir"/modules.{order,builtin,builtin.modinfo} "$base/lib/modules/$release/"
depmod -b "$base" "$release"
(cd "$base" && find . | cpio -o -H newc --quiet | gzip -6) > "$work/base.cpio.gz"
# The kernel reads an uncompressed archive only at a 4-byte aligned offset; zeros between archives are skipped.
truncate -s %512 "$work/base.cpio.gz"

# The capture kernel's initramfs for the all-in-initramfs layout: base, then /node.sqfs, left uncompressed in its cpio.
mkdir -p "$work/sqfs"
mksquashfs "$opt" "$work/sqfs/node.sqfs" -comp xz -all-root -quiet -no-progress >&2
(cd "$work/sqfs" && echo node.sqfs | cpio -o -H newc --quiet) > "$work/sqfs.cpio"
cat "$work/base.cpio.gz" "$work/sqfs.cpio" > "$work/capture-initramfs.img"
# For the root-filesystem layout the capture kernel needs only base: node comes from the disk.
cp "$work/base.cpio.gz" "$work/capture-rootfs.img"

# The first kernel's initramfs: base, then kexec with its libraries, the capture kernel and both capture initramfs images.
boot=$work/boot
copy_with_libs "$boot/kexec" /usr/sbin/kexec
mkdir -p "$boot/capture"
cp "$kroot/boot/vmlinuz-$release" "$boot/capture/vmlinuz"
cp "$work/capture-initramfs.img" "$work/capture-rootfs.img" "$boot/capture/"
(cd "$boot" && find . | cpio -o -H newc --quiet) > "$work/boot.cpio"
cat "$work/base.cpio.gz" "$work/boot.cpio" > "$out/first.img"
cp "$kroot/boot/vmlinuz-$release" "$out/vmlinuz"

# The root disk, as Debian's capture kernel boots it: busybox, /opt, the kdump-tools integration, /var/crash.
root=$work/rootfs
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,run,mnt,lib64,etc/default,var/crash,usr/lib/slim-core}
cp -a "$base/bin/." "$root/bin/"
ln -sf ../bin/busybox "$root/sbin/modprobe"
cp -a "$opt" "$root/opt"
ln -sf /opt/lib/ld-linux-x86-64.so.2 "$root/lib64/ld-linux-x86-64.so.2"
cp "$repo/integration/debian/kdump-tools-slim-core" "$root/usr/lib/slim-core/"
cp "$lab/rootfs-init.sh" "$root/sbin/init" && chmod +x "$root/sbin/init"
cp "$lab/bench.sh" "$root/sbin/bench.sh"
cat > "$root/etc/default/kdump-tools" <<'CONF'
KDUMP_COREDIR="/var/crash"
KDUMP_DUMP_DMESG=1
CONF
truncate -s 2G "$work/root.ext4"
mkfs.ext4 -q -F -L slimroot -d "$root" "$work/root.ext4"
mv "$work/root.ext4" "$out/root.ext4"
echo "$release" > "$out/release"
touch "$out/done"
echo "$out"
