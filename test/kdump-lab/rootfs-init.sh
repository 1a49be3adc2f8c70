#!/bin/sh
# /sbin/init of the lab's root disk: in the capture kernel it does what kdump-tools-dump.service does, with slim-core.
export LD_LIBRARY_PATH=/opt/lib
export PATH=/opt/bin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^slimlab\.$1=//p" | tail -n 1; }
say() { echo "SLIMLAB $*" > /dev/console; }
mode=$(arg mode) bench=$(arg bench)
# The root is mounted read-write by the initramfs; kdump-tools' layout lands in /var/crash.
SLIMCORE_ARGS="--mode $mode --json --no-progress" /usr/lib/slim-core/kdump-tools-slim-core savecore > /tmp/out 2> /tmp/err &
pid=$!
hwm=0
# The HWM of the node process (the wrapper's child) is the largest one seen.
while kill -0 $pid 2>/dev/null; do
  for p in $(pidof node); do
    h=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' /proc/"$p"/status 2>/dev/null)
    [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
  done
  sleep 0.2
done
wait $pid
rc=$?
cat /tmp/out > /dev/console
say "RESULT rc=$rc hwm_kb=$hwm $(grep '^{' /tmp/err | tail -n 1)"
grep -q "^{" /tmp/err && [ $rc = 0 ] || { say "STDERR"; cat /tmp/err > /dev/console; }
[ "$bench" = 1 ] && . /sbin/bench.sh
sync
umount /var/crash 2>/dev/null
say "DONE"
poweroff -f
