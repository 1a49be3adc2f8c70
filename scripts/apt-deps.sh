#!/usr/bin/env bash
# Installs the Debian packages the tests need (independent ELF readers, crash, makedumpfile, fuse, ssh, a Ceph RGW for s3://, QEMU and the guest image tools), only those missing.
set -euo pipefail

packages=(binutils python3-pyelftools elfutils python3-drgn python3-libkdumpfile fuse3 python3-fusepy kexec-tools crash makedumpfile openssh-server openssh-client openssl time ceph-mon ceph-osd radosgw qemu-system-x86 busybox-static cpio kmod squashfs-tools e2fsprogs)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-deps.sh: missing ${missing[*]}, and apt-get is not available to install them" >&2
  exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "apt-deps.sh: missing ${missing[*]}; run as root or install sudo" >&2; exit 1; }
  sudo=(sudo -n)
fi

echo "apt-deps.sh: installing ${missing[*]}" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Quiet on success; the log is shown only when apt fails.
if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q \
       && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1 </dev/null; then
  cat "$log" >&2
  echo "apt-deps.sh: installing ${missing[*]} failed" >&2
  exit 1
fi
