# NVMe controller hot-removal mid-copy, through the QEMU monitor: two
# 64 MiB copies on nvme-hp (offloaded as NVMe Copy, at most 4 MiB of Copy
# in flight, the device's I/O throttled to 8 MiB/s so that each takes about
# 16 s) are running when device_del takes the controller away (native PCIe
# hot-plug: attention button, then the guest powers the slot off).
# QEMU's trace proves the fault struck commands in flight: Copy commands
# submitted before the monitor began device_del and not completed by then
# (how each ended is noted). Both copies return, each completed (its bytes
# are compared once the controller is back) or with an error; nothing
# hangs; no job is left behind. The controller is then added back
# (device_add into its subsystem, which attaches the namespace again with
# its Copy limits; QEMU 7.2 could only attach the image as a legacy drive
# without them): the provider discovers the new disk afresh, the sources
# and the bytes around the destinations are unchanged, and a retried copy
# is offloaded again to exactly its blocks and is correct.
unload_providers
load_blkcopy
insmod "$BLKCOPY_NVME_KO" max_copy_mib=4 || fail "insmod blkcopy_nvme max_copy_mib=4"
trap 'throttle_group hp-throttle; wait || true; unload_providers' EXIT
h=$(role nvme-hp)
M=$((1 << 20)) L=$((64 << 20)) D1=$((192 << 20)) D2=$((320 << 20))
fill_random "$h" 0 $((2 * L))
fill_random "$h" $((D1 - 8 * M)) $((8 * M))
fill_random "$h" $((D1 + L)) $((D2 - D1 - L))
fill_random "$h" $((D2 + L)) $((8 * M))
src_sum=$(digest "$h" 0 $((2 * L)))
save_bytes "$h" $((D1 - 8 * M)) $((8 * M)) /tmp/hp-below
save_bytes "$h" $((D1 + L)) $((D2 - D1 - L)) /tmp/hp-between
save_bytes "$h" $((D2 + L)) $((8 * M)) /tmp/hp-above
# Before the fault: a copy offloaded (to exactly its blocks) and right.
evidence_begin "$h"
blkcopy copy "$h" "$h" --src-offset 0 --dst-offset "$D1" --length "$L" > /dev/null
expect_offloaded "$h" 0 "$h" "$D1" "$L"
assert_same "$h" 0 "$h" "$D1" "$L"

# The fault.
throttle_group hp-throttle '"bps-total":8388608'
m0=$(trace_mark)
copy_bg /tmp/hp1 "$h" "$L" "$D1" "$L"
copy_bg /tmp/hp2 "$h" 0 "$D2" "$L"
for ((i = 0; i < 300; i++)); do (( $(trace_copies "$m0") >= 2 )) && break; sleep 0.1; done
at=$(qmp_mark '{"execute":"device_del","arguments":{"id":"nvme2"}}')
inflight=$(nvme_inflight_at "$m0" "$at")
[[ -n $inflight ]] || fail "no Copy command was in flight when device_del began (trace lines $m0..$at)"
for ((i = 0; i < 300; i++)); do [[ -e /sys/class/block/$(basename "$h") ]] || break; sleep 0.1; done
[[ -e /sys/class/block/$(basename "$h") ]] && fail "namespace still present 30 s after device_del"
copy_bg_wait 130 /tmp/hp1 /tmp/hp2
wait
throttle_group hp-throttle
rc1=$(cat /tmp/hp1.rc) rc2=$(cat /tmp/hp2.rc)
((rc1 != 124 && rc2 != 124)) || fail "a copy hung: rc $rc1, $rc2"
note "device_del began with $(echo "$inflight" | wc -l) Copy commands in flight (cids $(echo $inflight)); they ended: $(nvme_ending_after "$at" $inflight | tr '\n' ' ')"
note "copy 1: rc $rc1 $(tr '\n' ' ' < /tmp/hp1.out); copy 2: rc $rc2 $(tr '\n' ' ' < /tmp/hp2.out)"
((rc1 != 0 || rc2 != 0)) || note "both copies completed (the removal waited for them)"
assert_pool_drained

# Back: a new controller in the namespace's subsystem. The slot powers off
# 5 s after the attention button; the old device is gone from QEMU only then.
rm -f /dev/role/nvme-hp
qmp_wait_deleted nvme2
qmp_ok '{"execute":"device_add","arguments":{"driver":"nvme","id":"nvme2","bus":"rp-hp","serial":"blkcopy-nvme2","subsys":"subsys-hp"}}'
for ((i = 0; i < 300; i++)); do discover_roles; [[ -b /dev/role/nvme-hp ]] && break; sleep 0.1; done
h=$(role nvme-hp)
note "back as $h"
[[ $(digest "$h" 0 $((2 * L))) == "$src_sum" ]] || fail "sources changed"
assert_file_same /tmp/hp-below "$h" $((D1 - 8 * M)) $((8 * M))
assert_file_same /tmp/hp-between "$h" $((D1 + L)) $((D2 - D1 - L))
assert_file_same /tmp/hp-above "$h" $((D2 + L)) $((8 * M))
# Every copy that reported success has its bytes.
if ((rc1 == 0)); then assert_same "$h" "$L" "$h" "$D1" "$L"; fi
if ((rc2 == 0)); then assert_same "$h" 0 "$h" "$D2" "$L"; fi
info=$(blkcopy info "$h" --json)
[[ $info == *'"provider":"nvme"'* ]] || fail "re-added namespace not claimed: $info"
grep -q "disk=$(basename "$h") .* copy=1 .*mssrl=2048" /sys/kernel/debug/blkcopy_nvme/namespaces ||
  fail "re-added namespace: $(grep "disk=$(basename "$h") " /sys/kernel/debug/blkcopy_nvme/namespaces)"
evidence_begin "$h"
out=$(blkcopy copy "$h" "$h" --src-offset "$L" --dst-offset "$D1" --length "$L" --json) || fail "retry after re-adding: $out"
[[ $(json_field "$out" bytes_offloaded) == "$L" ]] || fail "retry not offloaded on the re-attached namespace: $out"
expect_offloaded "$h" "$L" "$h" "$D1" "$L"
assert_same "$h" "$L" "$h" "$D1" "$L"
assert_file_same /tmp/hp-between "$h" $((D1 + L)) $((D2 - D1 - L))
