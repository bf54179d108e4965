# One slow device does not stall copies on the others. nvme-hp is
# throttled by QEMU (2 MiB/s of Copy), and a 64 MiB copy on it keeps the
# NVMe provider's in-flight budget (max_copy_mib, 32 MiB) full, so that
# the provider's submit sleeps until commands complete. Meanwhile copies
# between two LIO LUNs (EXTENDED COPY, another provider) take about as
# long as they do with nothing else running: nothing global is held while
# a provider is called. QEMU's trace shows NVMe Copy commands in flight on
# nvme-hp from before the first LIO copy until after the last; LIO's
# tracepoints show the LIO copies offloaded. All bytes are compared.
load_nvme_provider
load_scsi_provider
trap 'throttle_group hp-throttle; [[ -n ${slow:-} ]] && { wait "$slow" || true; }; unload_providers' EXIT
MB=$((1 << 20))
hp=$(role nvme-hp) la=$(role lio-a) lb=$(role lio-b)
nsid=$(cat "$(sysblk "$hp")/nsid")
fill_random "$hp" 0 $((64 * MB))
fill_random "$la" $((8 * MB)) $((8 * MB))

# Seconds (blkcopy's own wall clock, in µs) of an 8 MiB LIO copy, offloaded.
lio_copy() {
  local out
  out=$(blkcopy copy "$la" "$lb" --src-offset $((8 * MB)) --dst-offset $((16 * MB)) --length $((8 * MB)) --json) ||
    fail "LIO copy"
  [[ $(json_field "$out" bytes_offloaded) == $((8 * MB)) ]] || fail "LIO copy not offloaded: $out"
  assert_same "$la" $((8 * MB)) "$lb" $((16 * MB)) $((8 * MB))
  awk -F'"seconds":' '{ split($2, v, /[,}]/); printf "%d\n", v[1] * 1000000 }' <<< "$out"
}
base=0
for i in 1 2 3; do t=$(lio_copy); ((t > base)) && base=$t; done
note "LIO copy alone: at most ${base} us"

throttle_group hp-throttle '"bps-total":4194304'
m0=$(trace_mark)
blkcopy copy "$hp" "$hp" --src-offset 0 --dst-offset $((128 * MB)) --length $((64 * MB)) --json > /tmp/slow.json 2>&1 &
slow=$!
# The provider's budget is full: 32 MiB of Copy commands in flight.
for ((i = 0; i < 300; i++)); do
  (( $(nvme_inflight_at "$m0" "$(trace_mark)" | wc -l) > 0 )) && break
  sleep 0.1
done
sleep 3
before=$(nvme_inflight_at "$m0" "$(trace_mark)" | wc -l)
((before > 0)) || fail "no NVMe Copy in flight on nvme-hp"
lio_trace_reset
worst=0
for i in 1 2 3; do t=$(lio_copy); ((t > worst)) && worst=$t; done
after_at=$(trace_mark)
after=$(nvme_inflight_at "$m0" "$after_at" | wc -l)
kill -0 "$slow" 2>/dev/null || fail "the slow copy ended before the LIO copies did: not a stall test"
((after > 0)) || fail "no NVMe Copy in flight after the LIO copies"
(( $(lio_xcopies) >= 3 )) || fail "LIO saw $(lio_xcopies) EXTENDED COPY commands, want 3"
note "LIO copy next to the slow device: at most ${worst} us; NVMe Copy commands in flight before $before, after $after"
((worst <= 3 * base + 2000000)) || fail "LIO copies stalled behind the slow device: ${worst} us against ${base} us alone"
throttle_group hp-throttle
wait "$slow" || fail "slow copy: $(cat /tmp/slow.json)"
slow=
[[ $(json_field "$(cat /tmp/slow.json)" bytes_offloaded) == $((64 * MB)) ]] || fail "slow copy not offloaded: $(cat /tmp/slow.json)"
(( $(trace_since "$m0" | grep -c "^pci_nvme_copy cid [0-9]* nsid $nsid ") > 0 )) || fail "no Copy on nsid $nsid"
assert_same "$hp" 0 "$hp" $((128 * MB)) $((64 * MB))
