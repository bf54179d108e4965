# NVMe Copy between two namespaces of one controller (source range
# descriptor format 2h, each range naming its source namespace): copies of
# 4 KiB to 256 MiB, single and vectored, between the 512-byte namespaces
# (nvme-a -> nvme-b) and between the 4096-byte ones (nvme-4k -> nvme-4k2).
# Every byte is reported offloaded and matches. QEMU's trace shows Copy
# commands on the destination namespace in format 2h, whose source ranges
# are exactly the copy's source blocks, each written to the destination
# block the test computed; the guest's block statistics show no data moved
# by the host. The trace names no source namespace; the bytes do: before
# each copy the destination namespace's own blocks at the source offsets
# are filled with other data than the source's, so a device that read the
# ranges from the destination namespace (format 0h semantics) would leave
# other bytes than the source namespace holds.
# Also: the provider turns format 2h on in Host Behavior Support keeping
# what the nvme driver set there; BLKCOPY_INFO reports the pairs
# offloadable; namespaces of different LBA sizes fall back (cross_device,
# counted); a copy between namespaces through blkcopy-linear volumes is
# offloaded the same way.
ctrl=/dev/role/nvme-ctrl
ocfs=$(nvme id-ctrl "$ctrl" | awk '/^ocfs/ {print $3}')
(( ocfs & 4 )) || fail "the controller has no descriptor format 2h (OCFS $ocfs): QEMU $QEMU_MIN_MAJOR or later runs these tests"
# Host Behavior Support (feature 16h) bytes 0-5: ACRE, ETDAS, LBAFEE, -, CDFE.
hbs() { nvme get-feature "$ctrl" --feature-id=0x16 --data-len=512 --raw-binary | od -An -tu1 -N6 | tr -s ' ' | sed 's/^ //'; }
before=$(hbs) || fail "get-feature 16h"
load_nvme_provider
trap 'remove_volumes; unload_providers' EXIT
a=$(role nvme-a) b=$(role nvme-b) k=$(role nvme-4k) k2=$(role nvme-4k2)
j=$(blkcopy info "$a" "$b" --json)
grep_q '"pair_offload":true' <<< "$j" || fail "nvme-a -> nvme-b not offloadable: $j"
after=$(hbs) || fail "get-feature 16h"
read -r -a h0 <<< "$before"; read -r -a h1 <<< "$after"
[[ ${h1[0]} == "${h0[0]}" && ${h1[1]} == "${h0[1]}" && ${h1[2]} == "${h0[2]}" ]] ||
  fail "Host Behavior Support: the driver's fields changed: $before -> $after"
(( (h1[4] | h1[5] << 8) & 4 )) || fail "format 2h not enabled (CDFE): $after"
note "Host Behavior Support bytes 0-5: $before -> $after"
grep -q "^disk=$(basename "$b") .* cross_ns=1 " /sys/kernel/debug/blkcopy_nvme/namespaces ||
  fail "debugfs: $(grep "^disk=$(basename "$b") " /sys/kernel/debug/blkcopy_nvme/namespaces)"

cross() {  # src dst src-off dst-off len max-cmd max-range
  local out cmds ranges
  fill_random "$1" "$3" "$5"
  # The destination namespace's own blocks at the source offsets, and the
  # destination range, hold other data than the source.
  fill_random "$2" "$3" "$5"
  fill_random "$2" "$4" "$5"
  assert_differ "$1" "$3" "$2" "$3" "$5"
  assert_differ "$1" "$3" "$2" "$4" "$5"
  evidence_begin "$1" "$2"
  out=$(blkcopy copy "$1" "$2" --src-offset "$3" --dst-offset "$4" --length "$5" --json) || fail "copy $1 -> $2 $5"
  [[ $(json_field "$out" bytes_offloaded) == "$5" ]] || fail "$1 -> $2 $5 bytes: not all offloaded: $out"
  expect_offloaded "$1" "$3" "$2" "$4" "$5"
  cmds=$(trace_copies "$EV_MARK")
  ranges=$(trace_since "$EV_MARK" | grep -c '^pci_nvme_copy_source_range' || true)
  (( cmds == ($5 + $6 - 1) / $6 && ranges == ($5 + $7 - 1) / $7 )) ||
    fail "$1 -> $2 $5 bytes: $cmds commands / $ranges ranges in the trace"
  assert_same "$1" "$3" "$2" "$4" "$5"
  note "$(basename "$1") -> $(basename "$2"): $5 bytes in $cmds format 2h commands, $ranges ranges"
}
M=$((1 << 20))
# 512-byte namespaces: mssrl 16384 (8 MiB), mcl 65536 (32 MiB).
for len in 4096 65536 $M $((16 * M)) $((256 * M)); do
  cross "$a" "$b" $((1024 * M)) $((1536 * M)) "$len" $((32 * M)) $((8 * M))
done
# 4096-byte namespaces: mssrl 2048 (8 MiB), mcl 8192 (32 MiB).
for len in 4096 $M $((64 * M)) $((256 * M)); do
  cross "$k" "$k2" $((512 * M)) $((768 * M)) "$len" $((32 * M)) $((8 * M))
done
# Vectored: 16 scattered 64 KiB sources gathered into one destination run
# (one command of 16 ranges), and back.
args=() pieces=()
for i in $(seq 0 15); do
  so=$(( (1100 + 2 * i) * M )) dof=$(( 1700 * M + i * 65536 ))
  fill_random "$a" "$so" 65536; fill_random "$b" "$so" 65536
  args+=(--range "$so:$dof:65536"); pieces+=("$a" "$so" "$b" "$dof" 65536)
done
evidence_begin "$a" "$b"
out=$(blkcopy copy "$a" "$b" "${args[@]}" --json) || fail "vectored"
[[ $(json_field "$out" bytes_offloaded) == $((16 * 65536)) ]] || fail "vectored: $out"
expect_offloaded "${pieces[@]}"
[[ $(trace_copies "$EV_MARK") == 1 ]] || fail "vectored: $(trace_copies "$EV_MARK") commands, want 1"
for i in $(seq 0 15); do assert_same "$a" $(( (1100 + 2 * i) * M )) "$b" $(( 1700 * M + i * 65536 )) 65536; done
grep -q " cross_ns_commands=[1-9]" /sys/kernel/debug/blkcopy_nvme/namespaces || fail "no format 2h command counted"

# Different LBA sizes: no command can copy; the host does, counted.
j=$(blkcopy info "$a" "$k" --json)
grep_q '"pair_offload":false' <<< "$j" || fail "nvme-a -> nvme-4k offloadable: $j"
x0=$(stat_field "$k" fallback_cross_device)
fill_random "$a" 0 $((4 * M))
evidence_begin "$a" "$k"
out=$(blkcopy copy "$a" "$k" --length $((4 * M)) --json) || fail "nvme-a -> nvme-4k"
[[ $(json_field "$out" bytes_offloaded) == 0 ]] || fail "mismatched LBA sizes offloaded: $out"
expect_not_offloaded
assert_same "$a" 0 "$k" 0 $((4 * M))
[[ $(stat_field "$k" fallback_cross_device) == $((x0 + 4 * M)) ]] || fail "cross_device not counted"

# Through blkcopy-linear volumes on the two namespaces, mapped at the same
# place of each: the destination volume's blocks at the source offsets are
# the destination namespace's blocks at the source LBAs.
load_linear_target
S=2048
volume xn-a "0 $((64 * S)) blkcopy-linear $a $((1800 * S))"
volume xn-b "0 $((64 * S)) blkcopy-linear $b $((1800 * S))"
cross /dev/mapper/xn-a /dev/mapper/xn-b $M $((20 * M)) $((8 * M)) $((32 * M)) $((8 * M))

# Format 2h turned off behind the provider's back: a controller reset (the
# nvme driver writes Host Behavior Support again with only its own fields;
# userspace cannot, the kernel refuses Set Features 16h through its ioctl).
# The controller rejects the next format 2h command (QEMU traces the
# rejection); that piece falls back, counted as a device error, with right
# bytes; the provider turns CDFE on again (keeping the driver's fields),
# and the next copy is offloaded in format 2h.
nvme reset "$ctrl" || fail "nvme reset"
for ((i = 0; i < 100; i++)); do [[ $(cat "/sys/class/nvme/$(basename "$(readlink -f "$ctrl")")/state") == live ]] && break; sleep 0.1; done
read -r -a h2 <<< "$(hbs)"
(( (h2[4] | h2[5] << 8) & 4 )) && fail "CDFE still set after the reset: ${h2[*]}"
e0=$(stat_field "$b" fallback_device_error)
fill_random "$a" $((1024 * M)) "$M"
fill_random "$b" $((1536 * M)) "$M"
m0=$(trace_mark)
out=$(blkcopy copy "$a" "$b" --src-offset $((1024 * M)) --dst-offset $((1536 * M)) --length "$M" --json) || fail "copy after the reset"
assert_same "$a" $((1024 * M)) "$b" $((1536 * M)) "$M"
trace_since "$m0" | grep_q '^pci_nvme_err_copy_invalid_format format 0x2' ||
  fail "no format 2h command rejected in QEMU's trace: $(trace_since "$m0" | grep '^pci_nvme' | head -n 5)"
[[ $(json_field "$out" bytes_offloaded) == 0 ]] || fail "a rejected command counted as offloaded: $out"
[[ $(stat_field "$b" fallback_device_error) == $((e0 + M)) ]] || fail "device error not counted"
cross "$a" "$b" $((1024 * M)) $((1536 * M)) "$M" $((32 * M)) $((8 * M))
read -r -a h3 <<< "$(hbs)"
(( (h3[4] | h3[5] << 8) & 4 )) || fail "CDFE not turned on again: ${h3[*]}"
[[ ${h3[0]} == "${h0[0]}" && ${h3[1]} == "${h0[1]}" && ${h3[2]} == "${h0[2]}" ]] ||
  fail "Host Behavior Support: the driver's fields changed: $before -> ${h3[*]}"
note "after a controller reset (Host Behavior Support ${h2[*]:0:6}): the format 2h command rejected, its piece fell back; CDFE on again for the next copy"
