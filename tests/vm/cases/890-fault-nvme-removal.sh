# NVMe controller hot-removal mid-copy, through the QEMU monitor: copies
# on nvme-hp run in a loop (offloaded as NVMe Copy) when device_del takes
# the controller away (native PCIe hot-plug: attention button, then the
# guest powers the slot off). Every copy must return, completed with
# right bytes or with an error; nothing hangs; no job is left behind. The
# controller is then added back (device_add, same image; QEMU 7.2 can only
# attach it as the legacy drive, whose namespace has no Copy limits): the
# provider discovers the new disk afresh (not copy-capable, not the old
# disk's limits), the sources and the bytes around the destination are
# unchanged, and a retried copy falls back and is correct.
# At most 4 MiB of Copy in flight (see below).
unload_providers
load_blkcopy
insmod "$BLKCOPY_NVME_KO" max_copy_mib=4 || fail "insmod blkcopy_nvme max_copy_mib=4"
trap 'touch /tmp/hp.stop /tmp/hp0.stop; wait 2>/dev/null; unload_providers' EXIT
h=$(role nvme-hp)
M=$((1 << 20)) L=$((64 << 20)) D=$((192 << 20))
fill_random "$h" 0 $((2 * L))
fill_random "$h" $((D - 8 * M)) $((8 * M))
fill_random "$h" $((D + L)) $((8 * M))
read_direct "$h" 0 $((2 * L)) | sha256sum > /tmp/hp-src.sum
read_direct "$h" $((D - 8 * M)) $((8 * M)) > /tmp/hp-below
read_direct "$h" $((D + L)) $((8 * M)) > /tmp/hp-above
# Copies are offloaded and right before the fault.
copy_loop /tmp/hp0.log /tmp/hp0.stop "$h" "$h" $L $D 0 $L
for i in $(seq 300); do grep -q '^ok' /tmp/hp0.log 2>/dev/null && break; sleep 0.2; done
copy_loop_end /tmp/hp0.log /tmp/hp0.stop
grep -q '^ok .* [1-9]' /tmp/hp0.log || fail "no offloaded copy before the removal: $(cat /tmp/hp0.log)"
# The device's I/O slowed to 8 MiB/s (4 MiB/s of copy): a 64 MiB copy
# (64 Copy commands, at most 4 in flight) takes 16 s, so the removal (5 s
# after the attention button) finds commands in flight and most not yet
# issued. (An orderly removal completes what is in flight.)
qmp_ok '{"execute":"qom-set","arguments":{"path":"/objects/hp-throttle","property":"limits","value":{"bps-total":8388608}}}'
COPY_LOOP_VERIFY=0 copy_loop /tmp/hp.log /tmp/hp.stop "$h" "$h" $L $D 0 $L
sleep 1
qmp_ok '{"execute":"device_del","arguments":{"id":"nvme2"}}'
for i in $(seq 300); do [[ -e /sys/class/block/$(basename "$h") ]] || break; sleep 0.1; done
[[ -e /sys/class/block/$(basename "$h") ]] && fail "namespace still present 30 s after device_del"
note "removed: $(dmesg | grep -E 'pciehp|nvme' | tail -n 2 | tr '\n' '|')"
copy_loop_end /tmp/hp.log /tmp/hp.stop
qmp_ok '{"execute":"qom-set","arguments":{"path":"/objects/hp-throttle","property":"limits","value":{}}}'
note "copies: $(copy_loop_summary /tmp/hp.log); $(grep '^error' /tmp/hp.log | head -n 2 | tr '\n' '|')"
grep -q '^error' /tmp/hp.log || fail "no copy was in flight at the removal"
assert_pool_drained

# Back: the same image on a new controller.
rm -f /dev/role/nvme-hp
qmp_ok '{"execute":"device_add","arguments":{"driver":"nvme","id":"nvme2","bus":"rp-hp","serial":"blkcopy-nvme2","drive":"nvme-hp"}}'
for i in $(seq 300); do discover_roles; [[ -b /dev/role/nvme-hp ]] && break; sleep 0.1; done
h=$(role nvme-hp)
note "back as $h"
[[ $(read_direct "$h" 0 $((2 * L)) | sha256sum) == "$(cat /tmp/hp-src.sum)" ]] || fail "sources changed"
cmp -s /tmp/hp-below <(read_direct "$h" $((D - 8 * M)) $((8 * M))) || fail "bytes below the destination changed"
cmp -s /tmp/hp-above <(read_direct "$h" $((D + L)) $((8 * M))) || fail "bytes above the destination changed"
[[ $(blkcopy info "$h" --json) == *'"provider":"none"'* ]] || fail "re-added namespace claimed: $(blkcopy info "$h" --json)"
grep -q "disk=$(basename "$h") .* copy=0 .*mssrl=0" /sys/kernel/debug/blkcopy_nvme/namespaces ||
  fail "re-added namespace: $(grep "disk=$(basename "$h") " /sys/kernel/debug/blkcopy_nvme/namespaces)"
mark=$(trace_mark)
out=$(blkcopy copy "$h" "$h" --src-offset $L --dst-offset $D --length $L --json) || fail "retry after re-adding: $out"
[[ $(json_field "$out" bytes_offloaded) == 0 && $(trace_copies "$mark") == 0 ]] || fail "retry offloaded on a namespace without Copy limits: $out"
assert_same "$h" $L "$h" $D $L
cmp -s /tmp/hp-above <(read_direct "$h" $((D + L)) $((8 * M))) || fail "retry wrote past the destination"
