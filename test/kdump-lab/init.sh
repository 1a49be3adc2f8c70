#!/bin/sh
# /init of both guest kernels: the first loads the capture kernel and crashes; the capture kernel dumps /proc/vmcore.
# Options come from the kernel command line: slimlab.layout=initramfs|rootfs slimlab.crash=sysrq|mce slimlab.mode=auto|slim|full
export LD_LIBRARY_PATH=/opt/lib
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^slimlab\.$1=//p" | tail -n 1; }
say() { echo "SLIMLAB $*" > /dev/console; }
fail() { say "FAILED $*"; poweroff -f; }
layout=$(arg layout) crash=$(arg crash) mode=$(arg mode) bench=$(arg bench)
release=$(uname -r)
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do modprobe "$m" || fail "modprobe $m"; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

if [ ! -e /proc/vmcore ]; then
  # The first kernel.
  kexec() { /kexec/lib/ld-linux-x86-64.so.2 --library-path /kexec/lib /kexec/bin/kexec "$@"; }
  append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=5 slimlab.layout=$layout slimlab.mode=$mode slimlab.bench=$bench"
  [ "$layout" = rootfs ] && append="$append root=/dev/vda"
  kexec -p /capture/vmlinuz --initrd="/capture/capture-$layout.img" --append="$append" || fail "kexec -p"
  rm -f /capture/capture-*.img
  [ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || fail "kexec_crash_loaded is not 1"
  say "LOADED crashkernel=$(grep -i 'crash kernel' /proc/iomem | tr -d ' ')"
  if [ "$crash" = sysrq ]; then
    echo 1 > /proc/sys/kernel/sysrq
    echo c > /proc/sysrq-trigger
  fi
  say "IDLE"
  while :; do sleep 3600; done
fi

# The capture kernel.
say "CAPTURE $(grep -E 'MemTotal|MemFree|MemAvailable' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
if [ "$layout" = rootfs ]; then
  for m in crc16 mbcache jbd2 crc32c_generic ext4; do modprobe "$m" || fail "modprobe $m"; done
  mount -t ext4 /dev/vda /root || fail "mount /dev/vda"
  umount /dev /sys /proc
  exec switch_root /root /sbin/init
fi
modprobe loop && modprobe squashfs || fail "modprobe loop squashfs"
mount -t squashfs -o loop,ro /node.sqfs /opt || fail "mount node.sqfs"
say "MOUNTED $(grep -E 'MemFree|MemAvailable' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
/opt/bin/slim-core /proc/vmcore -o /dev/vda --mode "$mode" --json --no-progress --no-sync 2> /tmp/err &
pid=$!
hwm=0
while kill -0 $pid 2>/dev/null; do
  h=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$pid/status 2>/dev/null)
  [ -n "$h" ] && hwm=$h
  sleep 0.2
done
wait $pid
rc=$?
sync
say "RESULT rc=$rc hwm_kb=$hwm $(tail -n 1 /tmp/err)"
[ $rc = 0 ] || { say "STDERR"; cat /tmp/err > /dev/console; }
say "DONE"
poweroff -f
