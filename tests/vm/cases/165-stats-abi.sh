# The statistics interface (BLKCOPY_STATS, Documentation/ABI/testing/
# dev-blkcopy) through blkcopy stats, with debugfs unmounted: its counters
# move exactly by what the devices show. An offloaded NVMe copy: QEMU's
# trace has its Copy commands (the blocks the test computes) and the
# namespace's block statistics do not move, while bytes_offloaded grows by
# the copy's length and bytes_emulated does not. A copy through the host
# (--no-offload): no Copy command, the block statistics move by the
# copy's sectors read and written, bytes_emulated and fallback_disabled
# grow by its length. Every device is listed by index; --watch reports the
# rate of a copy running meanwhile. debugfs shows the same counters. After
# a fresh load of the module no device is listed.
debugfs_back() { grep -q ' /sys/kernel/debug debugfs ' /proc/mounts || mount -t debugfs none /sys/kernel/debug; }
trap 'debugfs_back; [[ -n ${bg:-} ]] && { wait "$bg" || true; }; unload_providers' EXIT
# Counters start at zero with the module: no device listed, a device's
# counters zero.
unload_providers
if grep -q '^blkcopy ' /proc/modules; then rmmod blkcopy || fail "rmmod blkcopy"; fi
load_nvme_provider
[[ $(blkcopy stats --json) == "[]" ]] || fail "devices listed after a fresh load: $(blkcopy stats --json)"
MB=$((1 << 20))
a=$(role nvme-a) b=$(role nvme-b)
umount /sys/kernel/debug || fail "umount debugfs"
[[ ! -e /sys/kernel/debug/blkcopy ]] || fail "debugfs still there"

field() { json_field "$1" "$2"; }
s0=$(blkcopy stats "$a" --json) || fail "stats without debugfs"

# Offloaded: the device did it.
copy_checked "$a" "$a" 0 $((512 * MB)) $((8 * MB)) $((8 * MB))
s1=$(blkcopy stats "$a" --json)
(($(field "$s1" copies) == $(field "$s0" copies) + 1)) || fail "copies: $s0 -> $s1"
(($(field "$s1" bytes_offloaded) == $(field "$s0" bytes_offloaded) + 8 * MB)) || fail "bytes_offloaded: $s0 -> $s1"
(($(field "$s1" bytes_emulated) == $(field "$s0" bytes_emulated))) || fail "bytes_emulated moved: $s0 -> $s1"

# Through the host: the block statistics count it.
fill_random "$a" $((16 * MB)) $((4 * MB))
evidence_begin "$a"
io0=$(io_sectors "$a")
blkcopy copy "$a" "$a" --src-offset $((16 * MB)) --dst-offset $((600 * MB)) --length $((4 * MB)) --no-offload > /dev/null ||
  fail "host copy"
io1=$(io_sectors "$a")
expect_not_offloaded
assert_same "$a" $((16 * MB)) "$a" $((600 * MB)) $((4 * MB))
s2=$(blkcopy stats "$a" --json)
read -r r0 w0 <<< "$io0"
read -r r1 w1 <<< "$io1"
((w1 - w0 == 4 * MB / 512 && r1 - r0 >= 4 * MB / 512)) || fail "block statistics: sectors read $((r1 - r0)), written $((w1 - w0))"
(($(field "$s2" bytes_emulated) == $(field "$s1" bytes_emulated) + 4 * MB)) || fail "bytes_emulated: $s1 -> $s2"
(($(field "$s2" fallback_disabled) == $(field "$s1" fallback_disabled) + 4 * MB)) || fail "fallback_disabled: $s1 -> $s2"
(($(field "$s2" bytes_offloaded) == $(field "$s1" bytes_offloaded))) || fail "bytes_offloaded moved: $s1 -> $s2"
[[ $(grep -o '"name":"[^"]*"' <<< "$s2") == "\"name\":\"$(blkname "$a")\"" ]] || fail "name: $s2"

# By index: every device, $a among them; a device no copy touched is zero.
all=$(blkcopy stats --json)
grep_q "\"name\":\"$(blkname "$a")\"" <<< "$all" || fail "$a not listed: $all"
(($(grep -o '"dev":' <<< "$all" | wc -l) == $(blkcopy stats | wc -l))) || fail "text and JSON list different devices"
zero="\"copies\":0,\"failures\":0,\"bytes_offloaded\":0,\"bytes_emulated\":0,"
blkcopy stats "$b" --json | grep_q "$zero" || fail "a device no copy touched: $(blkcopy stats "$b" --json)"
(($(grep -o '"dev":' <<< "$all" | wc -l) == 1)) || fail "only $a took part: $all"

# --watch: rates of the devices with copies in each interval.
# (A copy counts when it ends: it ends in the second report's interval.)
blkcopy stats --watch 1 --count 3 > /tmp/watch.out & bg=$!
sleep 1.3
blkcopy copy "$a" "$b" --length $((32 * MB)) --no-offload > /dev/null || fail "copy while watching"
wait "$bg" || fail "stats --watch"
bg=
w=$(cat /tmp/watch.out)
grep_q "^$(blkname "$b") .*/s" <<< "$w" || fail "no rate for $b: $w"
(($(grep -c '^device ' <<< "$w") == 3)) || fail "want 3 reports: $w"

debugfs_back
s3=$(blkcopy stats "$a")
grep -qxF "$s3" /sys/kernel/debug/blkcopy/stats || fail "debugfs and BLKCOPY_STATS differ: '$s3' vs $(cat /sys/kernel/debug/blkcopy/stats)"
