# Memory bound: a 1 GiB fallback copy holds at most one job's buffers
# (FB_DEPTH x 1 MiB = 1024 pages) from the module's pool, and the guest's
# free memory does not drop by more than a few MiB while it runs (the
# fallback's I/O bypasses the page cache). Measured from the module's own
# pool counter (debugfs blkcopy/pool: pages_peak) and from /proc/meminfo
# sampled every 0.2 s during the copy. Writing 0 to blkcopy/pool starts the
# peak afresh (from what is in use: nothing here); other input is refused.
load_blkcopy
s=$(role nvme-a) d=$(role nvme-b)
pool_peak_reset
[[ $(pool_field pages_peak) == 0 ]] || fail "peak after reset: $(cat $POOL)"
for bad in 1 x 00 '0 '; do
  ! printf '%s' "$bad" > $POOL 2>/dev/null || fail "pool accepted '$bad'"
done
free_before=$(awk '/^MemFree:/ {print $2}' /proc/meminfo)
blkcopy copy "$s" "$d" --src-offset 0 --dst-offset $((1 << 30)) --length $((1 << 30)) --no-offload >/tmp/mb.out &
pid=$!
min_free=$free_before
while kill -0 "$pid" 2>/dev/null; do
  f=$(awk '/^MemFree:/ {print $2}' /proc/meminfo)
  ((f < min_free)) && min_free=$f
  sleep 0.2
done
wait "$pid" || fail "copy failed"
grep -q 'copied 1073741824 bytes' /tmp/mb.out || fail "$(cat /tmp/mb.out)"
peak=$(pool_field pages_peak)
note "pool peak $peak pages ($((peak * 4)) KiB), MemFree before $free_before KiB, lowest $min_free KiB"
((peak > 0 && peak <= 1024)) || fail "pool peak $peak pages, want 1..1024"
(( (free_before - min_free) < 16384 )) || fail "free memory dropped by $(( (free_before - min_free) / 1024 )) MiB"
assert_same "$s" 0 "$d" $((1 << 30)) $((1 << 30))
pool_peak_reset
[[ $(pool_field pages_peak) == 0 ]] || fail "peak after the copy and a reset: $(cat $POOL)"
