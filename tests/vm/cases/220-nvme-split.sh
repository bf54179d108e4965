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
mark=$(trace_mark)
out=$(blkcopy copy "$d" "$d" --src-offset 0 --dst-offset $((64 << 20)) --length $((1 << 20)) --json) || fail "copy"
[[ $(json_field "$out" bytes_offloaded) == $((1 << 20)) ]] || fail "not offloaded: $out"
assert_same "$d" 0 "$d" $((64 << 20)) $((1 << 20))
t=$(trace_since "$mark")
[[ $(echo "$t" | grep -c '^pci_nvme_copy cid') == 64 ]] || fail "want 64 commands: $(echo "$t" | grep -c '^pci_nvme_copy cid')"
[[ $(echo "$t" | grep -c '^pci_nvme_copy_source_range') == 256 ]] || fail "want 256 source ranges"
echo "$t" | awk '
  /^pci_nvme_copy cid/ && $7 > 4 { bad = "command with " $7 " ranges" }
  /^pci_nvme_copy_source_range/ && $5 > 8 { bad = "range of " $5 " blocks" }
  /^pci_nvme_copy_out/ && $5 > 64 { bad = "command of " $5 " blocks" }
  END { if (bad) { print bad; exit 1 } }' || fail "a command beyond the limits"
fill_random "$d" $((8 << 20)) $((1 << 20))
args=()
for i in $(seq 0 15); do args+=(--range "$(( (8 << 20) + i * 65536 )):$(( (100 << 20) + i * 131072 )):16384"); done
mark=$(trace_mark)
out=$(blkcopy copy "$d" "$d" "${args[@]}" --json) || fail "vectored copy"
[[ $(json_field "$out" bytes_offloaded) == $((16 * 16384)) ]] || fail "vectored not offloaded: $out"
[[ $(trace_copies "$mark") == 16 ]] || fail "vectored: $(trace_copies "$mark") commands, want 16"
for i in $(seq 0 15); do assert_same "$d" $(( (8 << 20) + i * 65536 )) "$d" $(( (100 << 20) + i * 131072 )) 16384; done
# A gather of 16 ranges of 4 KiB into one contiguous destination: packed
# into commands of 4 source ranges, as MSRC allows.
args=()
for i in $(seq 0 15); do args+=(--range "$(( (8 << 20) + i * 65536 )):$(( (120 << 20) + i * 4096 )):4096"); done
mark=$(trace_mark)
out=$(blkcopy copy "$d" "$d" "${args[@]}" --json) || fail "gather copy"
[[ $(json_field "$out" bytes_offloaded) == 65536 ]] || fail "gather not offloaded: $out"
[[ $(trace_copies "$mark") == 4 ]] || fail "gather: $(trace_copies "$mark") commands, want 4"
for i in $(seq 0 15); do assert_same "$d" $(( (8 << 20) + i * 65536 )) "$d" $(( (120 << 20) + i * 4096 )) 4096; done
