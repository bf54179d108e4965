# SCSI offload on LIO: same-LU and cross-LU copies from 512 bytes to
# 256 MiB, on 512- and 4096-byte LUNs. Bytes match, every byte is
# reported offloaded, LIO's tracepoints show EXTENDED COPY commands from
# the initiator whose copy manager read exactly the source blocks and wrote
# each to the block the test computed, the initiator's block statistics
# show no data read or written for the copy, and the provider issued as many EXTENDED COPY
# commands as the copy manager's limits require (one segment of at most
# min(MAXIMUM SEGMENT LENGTH, 65535 blocks) each), none beyond them.
load_scsi_provider
trap unload_providers EXIT
offload() {  # src-role dst-role src-off dst-off len
  local s d out c0 c1 per want info
  s=$(role "$1"); d=$(role "$2")
  fill_random "$s" "$3" "$5"
  fill_random "$d" "$4" "$5"
  assert_differ "$s" "$3" "$d" "$4" "$5"
  info=$(blkcopy info "$d" --json)
  per=$(json_field "$info" max_copy_bytes)
  c0=$(scsi_counter commands)
  evidence_begin "$s" "$d"
  out=$(blkcopy copy "$s" "$d" --src-offset "$3" --dst-offset "$4" --length "$5" --json) || fail "$1 -> $2: copy failed"
  c1=$(scsi_counter commands)
  [[ $(json_field "$out" bytes_offloaded) == "$5" ]] || fail "$1 -> $2 $5 bytes: not all offloaded: $out"
  expect_offloaded "$s" "$3" "$d" "$4" "$5"
  want=$(( ($5 + per - 1) / per ))
  [[ $((c1 - c0)) == "$want" && $(lio_xcopies) == "$want" ]] ||
    fail "$1 -> $2 $5 bytes: $((c1 - c0)) EXTENDED COPY commands counted, $(lio_xcopies) in LIO's trace, want $want"
  assert_same "$s" "$3" "$d" "$4" "$5"
  note "$1 -> $2: $5 bytes in $((c1 - c0)) EXTENDED COPY commands"
}
M=$((1 << 20))
for len in 512 65536 $M $((32 * M)); do
  offload lio-a lio-a $((8 * M)) $((300 * M)) "$len"
  offload lio-a lio-b $((64 * M)) $((200 * M)) "$len"
done
offload lio-a lio-a 0 $((256 * M)) $((256 * M))
offload lio-b lio-a $((256 * M)) 0 $((256 * M))
for len in 4096 $M $((64 * M)); do
  offload lio-4k lio-4k $((4 * M)) $((128 * M)) "$len"
done
mb=$(scsi_counter max_command_blocks)
((mb > 0 && mb <= 65535)) || fail "a command of $mb blocks"
