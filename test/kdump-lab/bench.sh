# Sourced by the root disk's init when slimlab.bench=1: slim-core against makedumpfile and cat on the same /proc/vmcore, same boot.
# Each line: SLIMLAB BENCH name seconds peak_rss_kb bytes (the time includes the sync that puts a file on disk; bytes 0 for /dev/null).
bench() {
  name=$1 out=$2; shift 2
  [ "$out" = /dev/null ] || rm -f "$out"
  sync
  start=$(cut -d' ' -f1 /proc/uptime)
  "$@" > /dev/null 2> /tmp/bench.err &
  pid=$!
  peak=0
  while kill -0 $pid 2>/dev/null; do
    # The largest VmHWM of the command and its children (sh -c runs cat and node as children).
    for p in $pid $(cat /proc/$pid/task/*/children 2>/dev/null); do
      h=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' /proc/"$p"/status 2>/dev/null)
      [ -n "$h" ] && [ "$h" -gt "$peak" ] && peak=$h
    done
    sleep 0.1
  done
  wait $pid || { say "BENCH $name failed: $(tail -n 2 /tmp/bench.err | tr '\n' ' ')"; return; }
  sync
  end=$(cut -d' ' -f1 /proc/uptime)
  bytes=0
  [ "$out" = /dev/null ] || { bytes=$(stat -c %s "$out" 2>/dev/null || echo 0); rm -f "$out"; }
  say "BENCH $name $(awk "BEGIN{printf \"%.2f\", $end - $start}") $peak $bytes"
}
b=/var/crash/bench
sc="/opt/bin/slim-core /proc/vmcore --no-progress"
say "BENCH-START $(grep -E 'MemTotal|MemFree' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
bench cat-null /dev/null sh -c "cat /proc/vmcore > /dev/null"
# mmap against read(2), to /dev/null in the order A B B A, then to a file.
bench full-mmap-null /dev/null sh -c "$sc --mode full --reader mmap > /dev/null"
bench full-read-null /dev/null sh -c "$sc --mode full --reader read > /dev/null"
bench full-read-null /dev/null sh -c "$sc --mode full --reader read > /dev/null"
bench full-mmap-null /dev/null sh -c "$sc --mode full --reader mmap > /dev/null"
bench cat-file $b.cat sh -c "cat /proc/vmcore > $b.cat"
bench full-mmap-file $b.full $sc --mode full --reader mmap -o $b.full
bench full-read-file $b.full $sc --mode full --reader read -o $b.full
bench makedumpfile-E-d0 $b.mdf /opt/bin/makedumpfile -E -d 0 /proc/vmcore $b.mdf
bench full-d31-file $b.d31 $sc --mode full -d 31 -o $b.d31
bench makedumpfile-E-d31 $b.mdf31 /opt/bin/makedumpfile -E -d 31 /proc/vmcore $b.mdf31
bench slim-file $b.slim $sc --mode slim -o $b.slim
bench makedumpfile-dump-dmesg $b.dmesg /opt/bin/makedumpfile --dump-dmesg /proc/vmcore $b.dmesg
bench slimcore-dmesg $b.sdmesg sh -c "/opt/bin/slim-core dmesg /proc/vmcore > $b.sdmesg"
say "BENCH-END"
