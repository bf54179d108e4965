# Small limits force splitting: on nvme-small (mssrl 8, mcl 64, msrc 3)
# every Copy command in the trace stays within the limits (QEMU traces the
# ranges of concurrent commands interleaved, so each event is checked on
# its own: ranges per command, blocks per range, blocks per command), and
# the bytes
# match. With 512-byte blocks a command carries at most 4 ranges of 8
# blocks (16 KiB, below MCL's 32 KiB), so 1 MiB takes 64 full commands.
# Vectored: scattered destinations take a command per range; a gather into
# one contiguous destination is packed 4 ranges per command. A vectored copy of 16
# ranges is done as one command per range.
load_nvme_provider
trap unload_providers EXIT
d=$(role nvme-small)
fill_random "$d" 0 $((1 << 20))
evidence_begin "$d"
out=$(blkcopy copy "$d" "$d" --src-offset 0 --dst-offset $((64 << 20)) --length $((1 << 20)) --json) || fail "copy"
[[ $(json_field "$out" bytes_offloaded) == $((1 << 20)) ]] || fail "not offloaded: $out"
expect_offloaded "$d" 0 "$d" $((64 << 20)) $((1 << 20))
assert_same "$d" 0 "$d" $((64 << 20)) $((1 << 20))
t=$(trace_since "$EV_MARK")
[[ $(echo "$t" | grep -c '^pci_nvme_copy cid') == 64 ]] || fail "want 64 commands: $(echo "$t" | grep -c '^pci_nvme_copy cid')"
[[ $(echo "$t" | grep -c '^pci_nvme_copy_source_range') == 256 ]] || fail "want 256 source ranges"
echo "$t" | awk '
  /^pci_nvme_copy cid/ && $7 > 4 { bad = "command with " $7 " ranges" }
  /^pci_nvme_copy_source_range/ && $5 > 8 { bad = "range of " $5 " blocks" }
  /^pci_nvme_copy_out/ && $5 > 64 { bad = "command of " $5 " blocks" }
  END { if (bad) { print bad; exit 1 } }' || fail "a command beyond the limits"
fill_random "$d" $((8 << 20)) $((1 << 20))
# 16 ranges from 64 KiB apart at 8 MiB to <dst base> + i * <dst step>, of
# <len> bytes each, in one vectored copy: offloaded in <commands> commands.
vectored() {  # <name> <dst base> <dst step> <len> <commands>
  local i so dof args=() ranges=() out
  for i in $(seq 0 15); do
    so=$(( (8 << 20) + i * 65536 )) dof=$(( $2 + i * $3 ))
    args+=(--range "$so:$dof:$4"); ranges+=("$d" "$so" "$d" "$dof" "$4")
  done
  evidence_begin "$d"
  out=$(blkcopy copy "$d" "$d" "${args[@]}" --json) || fail "$1 copy"
  [[ $(json_field "$out" bytes_offloaded) == $((16 * $4)) ]] || fail "$1 not offloaded: $out"
  expect_offloaded "${ranges[@]}"
  [[ $(trace_copies "$EV_MARK") == "$5" ]] || fail "$1: $(trace_copies "$EV_MARK") commands, want $5"
  for ((i = 0; i < ${#ranges[@]}; i += 5)); do assert_same "${ranges[@]:i:5}"; done
}
vectored vectored $((100 << 20)) 131072 16384 16
# A gather of 16 ranges of 4 KiB into one contiguous destination: packed
# into commands of 4 source ranges, as MSRC allows.
vectored gather $((120 << 20)) 4096 4096 4
