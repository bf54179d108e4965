# NVMe offload: copies of 4 KiB to 256 MiB within one namespace, on 512-
# and 4096-byte namespaces. The bytes match, every byte is reported
# offloaded, QEMU's trace shows the expected number of Copy commands and
# source ranges for the namespace's limits, and the guest's block
# statistics show no data read or written by the host for the copy.
load_nvme_provider
trap unload_providers EXIT
offload() {  # role src dst len max-cmd-bytes max-range-bytes
  local d mark out secs before after cmds ranges want_cmds want_ranges
  d=$(role "$1")
  fill_random "$d" "$2" "$4"
  fill_random "$d" "$3" "$4"
  assert_differ "$d" "$2" "$d" "$3" "$4"
  mark=$(trace_mark); before=$(io_sectors "$d")
  out=$(blkcopy copy "$d" "$d" --src-offset "$2" --dst-offset "$3" --length "$4" --json) || fail "$1: copy failed"
  after=$(io_sectors "$d")
  [[ $(json_field "$out" bytes_offloaded) == "$4" ]] || fail "$1 $4 bytes: not all offloaded: $out"
  [[ $before == "$after" ]] || fail "$1: data crossed the host: sectors $before -> $after"
  cmds=$(trace_copies "$mark")
  ranges=$(trace_since "$mark" | grep -c '^pci_nvme_copy_source_range')
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
for len in 4096 $M $((64 * M)); do
  offload nvme-4k $((512 * M)) $((768 * M)) "$len" $((32 * M)) $((8 * M))
done
grep -q "commands=" /sys/kernel/debug/blkcopy_nvme/namespaces || fail "no counters"
