# Sourced by the root disk's init when slimlab.bench=1: slim-core against makedumpfile on the same /proc/vmcore, same boot.
# Each line: SLIMLAB BENCH name seconds peak_rss_kb bytes (the time includes the sync that puts the file on disk).
bench() {
  name=$1 file=$2; shift 2
  rm -f "$file"; sync
  start=$(cut -d' ' -f1 /proc/uptime)
  "$@" > /dev/null 2> /tmp/bench.err &
  pid=$!
  peak=0
  while kill -0 $pid 2>/dev/null; do
    h=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' /proc/$pid/status 2>/dev/null)
    [ -n "$h" ] && [ "$h" -gt "$peak" ] && peak=$h
    sleep 0.1
  done
  wait $pid || { say "BENCH $name failed: $(tail -n 2 /tmp/bench.err | tr '\n' ' ')"; return; }
  sync
  end=$(cut -d' ' -f1 /proc/uptime)
  bytes=$(stat -c %s "$file" 2>/dev/null || echo 0)
  say "BENCH $name $(awk "BEGIN{printf \"%.2f\", $end - $start}") $peak $bytes"
  rm -f "$file"
}
b=/var/crash/bench
bench cat $b.cat sh -c "cat /proc/vmcore > $b.cat"
bench slimcore-full $b.full /opt/bin/slim-core /proc/vmcore --mode full --no-progress -o $b.full
bench makedumpfile-E-d0 $b.mdf /opt/bin/makedumpfile -E -d 0 /proc/vmcore $b.mdf
bench slimcore-slim $b.slim /opt/bin/slim-core /proc/vmcore --mode slim --no-progress -o $b.slim
bench makedumpfile-dump-dmesg $b.dmesg /opt/bin/makedumpfile --dump-dmesg /proc/vmcore $b.dmesg
bench slimcore-dmesg $b.sdmesg sh -c "/opt/bin/slim-core dmesg /proc/vmcore > $b.sdmesg"
