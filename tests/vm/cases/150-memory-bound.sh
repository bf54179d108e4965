# Memory bound: a 1 GiB fallback copy holds at most one job's buffers
# (FB_DEPTH x 1 MiB = 1024 pages) from the module's pool, and the guest's
# free memory does not drop by more than a few MiB while it runs (the
# fallback's I/O bypasses the page cache). Measured from the module's own
# pool counter (debugfs blkcopy/pool: pages_peak) and from /proc/meminfo
# sampled every 0.2 s during the copy. Writing 0 to blkcopy/pool starts the
# peak afresh (from what is in use: nothing here); other input is refused.
#
# On a KASAN kernel (the debug build) freed slab objects wait in KASAN's
# quarantine (up to 1/32 of RAM) instead of going back: there the 1 GiB
# copy's bios and requests grew SUnreclaim by 25 MiB, and MemFree dropped
# by as much. On such a kernel the growth of SUnreclaim is taken out of
# the drop (kmemleak, in the same build, reports slab objects that leak);
# on other kernels the drop is bounded as it is.
load_blkcopy
s=$(role nvme-a) d=$(role nvme-b)
pool_peak_reset
[[ $(pool_field pages_peak) == 0 ]] || fail "peak after reset: $(cat "$POOL")"
for bad in 1 x 00 '0 '; do
  ! printf '%s' "$bad" > "$POOL" 2>/dev/null || fail "pool accepted '$bad'"
done
kasan=0
grep -q ' kasan_quarantine_put$' /proc/kallsyms && kasan=1
# MemFree and SUnreclaim (KiB)
mem() { awk '/^MemFree:/ {f = $2} /^SUnreclaim:/ {u = $2} END {print f, u}' /proc/meminfo; }
read -r free_before slab_before < <(mem)
blkcopy copy "$s" "$d" --src-offset 0 --dst-offset $((1 << 30)) --length $((1 << 30)) --no-offload >/tmp/mb.out &
pid=$!
drop=0 slab_growth=0
while kill -0 "$pid" 2>/dev/null; do
  read -r f u < <(mem)
  g=$(( kasan && u > slab_before ? u - slab_before : 0 ))
  (( free_before - f - g > drop )) && drop=$(( free_before - f - g )) slab_growth=$g
  sleep 0.2
done
wait "$pid" || fail "copy failed"
grep -q 'copied 1073741824 bytes' /tmp/mb.out || fail "$(cat /tmp/mb.out)"
peak=$(pool_field pages_peak)
note "pool peak $peak pages ($((peak * 4)) KiB), MemFree before $free_before KiB, largest drop $drop KiB (KASAN: $kasan, slab growth taken out: $slab_growth KiB)"
((peak > 0 && peak <= 1024)) || fail "pool peak $peak pages, want 1..1024"
((drop < 16384)) || fail "free memory dropped by $((drop / 1024)) MiB"
assert_same "$s" 0 "$d" $((1 << 30)) $((1 << 30))
pool_peak_reset
[[ $(pool_field pages_peak) == 0 ]] || fail "peak after the copy and a reset: $(cat "$POOL")"
