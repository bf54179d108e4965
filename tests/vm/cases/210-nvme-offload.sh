# NVMe offload: copies of 4 KiB to 256 MiB within one namespace, on 512-
# and 4096-byte namespaces, single and vectored. The bytes match, every byte is reported
# offloaded, QEMU's trace shows Copy commands on the namespace whose source
# ranges are exactly the copy's source blocks, each written to the block
# the test computed, in as many commands and ranges as the namespace's
# limits imply, and the guest's block statistics show no data read or
# written by the host for the copy.
load_nvme_provider
trap unload_providers EXIT
offload() {  # role src dst len max-cmd-bytes max-range-bytes
  local d out cmds ranges want_cmds want_ranges
  d=$(role "$1")
  fill_random "$d" "$2" "$4"
  fill_random "$d" "$3" "$4"
  assert_differ "$d" "$2" "$d" "$3" "$4"
  evidence_begin "$d"
  out=$(blkcopy copy "$d" "$d" --src-offset "$2" --dst-offset "$3" --length "$4" --json) || fail "$1: copy failed"
  [[ $(json_field "$out" bytes_offloaded) == "$4" ]] || fail "$1 $4 bytes: not all offloaded: $out"
  expect_offloaded "$d" "$2" "$d" "$3" "$4"
  cmds=$(trace_copies "$EV_MARK")
  ranges=$(trace_since "$EV_MARK" | grep -c '^pci_nvme_copy_source_range' || true)
  want_cmds=$(( ($4 + $5 - 1) / $5 ))
  want_ranges=$(( ($4 + $6 - 1) / $6 ))
  [[ $cmds == "$want_cmds" && $ranges == "$want_ranges" ]] ||
    fail "$1 $4 bytes: $cmds commands / $ranges ranges in the trace, want $want_cmds / $want_ranges"
  assert_same "$d" "$2" "$d" "$3" "$4"
  note "$1: $4 bytes in $cmds Copy commands, $ranges source ranges"
}
M=$((1 << 20))
# nvme-a: 512-byte LBAs, mssrl 16384 (8 MiB), mcl 65536 (32 MiB), msrc 127
for len in 4096 65536 $M $((16 * M)) $((256 * M)); do
  offload nvme-a $((1024 * M)) $((1536 * M)) "$len" $((32 * M)) $((8 * M))
done
# nvme-4k: 4096-byte LBAs, mssrl 2048 (8 MiB), mcl 8192 (32 MiB), msrc 127
for len in 4096 $M $((64 * M)) $((256 * M)); do
  offload nvme-4k $((512 * M)) $((768 * M)) "$len" $((32 * M)) $((8 * M))
done
# Vectored. A gather (scattered sources, one contiguous destination) is one
# pair: on nvme-a 16 ranges of 64 KiB become one Copy command of 16 source
# ranges. Scattered destinations (nvme-4k) take a command per range.
vector() {  # role ranges-spec... ; expects $want_cmds $want_ranges
  local d=$1 out args=() ranges=() total=0 spec so dof l; shift
  for spec in "$@"; do
    args+=(--range "$spec"); IFS=: read -r so dof l <<< "$spec"; total=$((total + l)); fill_random "$d" "$so" "$l"
    ranges+=("$d" "$so" "$d" "$dof" "$l")
  done
  evidence_begin "$d"
  out=$(blkcopy copy "$d" "$d" "${args[@]}" --json) || fail "vectored copy on $d"
  [[ $(json_field "$out" bytes_offloaded) == "$total" ]] || fail "vectored: not all offloaded: $out"
  expect_offloaded "${ranges[@]}"
  [[ $(trace_copies "$EV_MARK") == "$want_cmds" ]] || fail "vectored: $(trace_copies "$EV_MARK") commands, want $want_cmds"
  [[ $(trace_since "$EV_MARK" | grep -c '^pci_nvme_copy_source_range') == "$want_ranges" ]] || fail "vectored: source ranges"
  for spec in "$@"; do IFS=: read -r so dof l <<< "$spec"; assert_same "$d" "$so" "$d" "$dof" "$l"; done
}
specs=()
for i in $(seq 0 15); do specs+=("$(( (1100 + i) * M )):$(( 1600 * M + i * 65536 )):65536"); done
want_cmds=1 want_ranges=16 vector "$(role nvme-a)" "${specs[@]}"
specs=()
for i in $(seq 0 7); do specs+=("$(( (600 + i) * M )):$(( (900 - 2 * i) * M )):65536"); done
want_cmds=8 want_ranges=8 vector "$(role nvme-4k)" "${specs[@]}"
grep -q "commands=" /sys/kernel/debug/blkcopy_nvme/namespaces || fail "no counters"
