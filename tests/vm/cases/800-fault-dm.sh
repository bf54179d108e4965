# Faults beneath the blkcopy-linear target, during copies through it:
# - the destination part of a volume is a stock dm-error line: EIO, the
#   source and the bytes around the destination unchanged; after the line
#   is reloaded onto real storage a retried copy is offloaded and correct;
# - dm-flakey failing writes (error_writes) or reads (error_reads) beneath
#   a blkcopy-linear line: EIO, nothing outside the destination changes;
# - dm-flakey switching between working and failing every second while
#   copies run in a loop for 8 s: every copy either completes with correct
#   bytes or fails with EIO, none hangs, and one after the fault is right;
# - the NVMe device rejecting a Copy command under the volume: that piece
#   falls back, the bytes are right; QEMU's trace shows the rejected command
#   and the rest copied by the device, block for block.
# Device-side proof that the faults struck: the EIO copies' writes reached
# dm-error/dm-flakey (the kernel logs nothing for them, so the proof is the
# errno, the unchanged bytes, and dm-flakey's state being the only change);
# the retries after a fault are offloaded to exactly the blocks computed.
# (dm-flakey's drop_writes and corrupt modes make a device lie about
# success; no copy engine can detect that, so they are not used.)
load_linear_target
load_nvme_provider
trap 'touch /tmp/fl.stop; wait || true; echo 0 > /sys/module/blkcopy_nvme/parameters/inject_invalid_format; remove_volumes; unload_providers' EXIT
M=2048 MB=$((1 << 20))
n=$(role nvme-a)
# Save <len> bytes at <off> of <dev> as guard <name>.
save() { save_bytes "$1" "$2" "$3" "/tmp/guard-$4"; }
# Guard check: the first <len> saved bytes still equal <len> bytes at <off>.
same() { cmp_bytes "/tmp/guard-$4" 0 "$1" "$2" "$3" || fail "$5: $CMP_OUT"; }
# A copy that must fail with EIO.
copy_eio() {
  local err
  err=$(blkcopy copy "$@" 2>&1) && fail "copy succeeded on a failing device: blkcopy copy $*"
  [[ $err == *"Input/output error"* ]] || fail "want EIO, got: $err"
}

# 1. dm-error as the destination line of a mixed volume.
base=$((1200 * M))
volume bl-src "0 $((64 * M)) blkcopy-linear $n $base"
volume bl-fe "0 $((32 * M)) blkcopy-linear $n $((base + 64 * M))
$((32 * M)) $((32 * M)) error"
s=/dev/mapper/bl-src v=/dev/mapper/bl-fe
fill_random "$s" 0 $((16 * MB)); save "$s" 0 $((16 * MB)) src
fill_random "$v" 0 $((32 * MB)); save "$v" 0 $((32 * MB)) good
copy_eio "$s" "$v" --dst-offset $((40 * MB)) --length $((16 * MB))
copy_eio "$s" "$v" --dst-offset $((24 * MB)) --length $((16 * MB))   # straddles the lines
same "$s" 0 $((16 * MB)) src "source changed"
same "$v" 0 $((24 * MB)) good "bytes before the destination changed"
printf '0 %d blkcopy-linear %s %d\n%d %d blkcopy-linear %s %d\n' $((32 * M)) "$n" $((base + 64 * M)) \
  $((32 * M)) $((32 * M)) "$n" $((base + 96 * M)) | dmsetup load bl-fe || fail "reload without the error line"
dmsetup resume bl-fe || fail "resume"
evidence_begin "$s" "$v"
out=$(blkcopy copy "$s" "$v" --dst-offset $((24 * MB)) --length $((16 * MB)) --json) || fail "retry: $out"
[[ $(json_field "$out" bytes_offloaded) == $((16 * MB)) ]] || fail "retry not offloaded: $out"
expect_offloaded "$s" 0 "$v" $((24 * MB)) $((16 * MB))
assert_same "$s" 0 "$v" $((24 * MB)) $((16 * MB))
same "$v" 0 $((24 * MB)) good "retry wrote before the destination"

# 2. dm-flakey beneath a blkcopy-linear line, failing writes, then reads.
fb=$((1400 * M))
volume bl-fk "0 $((64 * M)) flakey $n $fb 0 1 1 error_writes"
volume bl-ff "0 $((64 * M)) blkcopy-linear /dev/mapper/bl-fk 0"
f=/dev/mapper/bl-ff
fill_random "$n" $((fb * 512)) $((64 * MB)); save "$n" $((fb * 512)) $((64 * MB)) flakey
copy_eio "$s" "$f" --dst-offset $((8 * MB)) --length $((16 * MB))
copy_eio "$f" "$f" --src-offset 0 --dst-offset $((32 * MB)) --length $((4 * MB))
same "$n" $((fb * 512)) $((64 * MB)) flakey "a failed write changed bytes"
printf '0 %d flakey %s %d 0 1 1 error_reads\n' $((64 * M)) "$n" $fb | dmsetup load bl-fk || fail "load error_reads"
dmsetup resume bl-fk || fail "resume"
copy_eio "$f" "$s" --src-offset 0 --dst-offset $((48 * MB)) --length $((8 * MB))
same "$s" 0 $((16 * MB)) src "source volume changed"

# 3. Intermittent: 1 s up, 1 s failing writes, copies in a loop for 8 s.
printf '0 %d flakey %s %d 1 1 1 error_writes\n' $((64 * M)) "$n" $fb | dmsetup load bl-fk || fail "load intermittent"
dmsetup resume bl-fk || fail "resume"
copy_loop /tmp/fl.log /tmp/fl.stop "$s" "$f" $((4 * MB)) $((32 * MB)) 0 $((4 * MB)) $((8 * MB)) $((12 * MB))
# At least 8 s, and until both outcomes were seen (at most 60 s).
for ((i = 0; i < 600; i++)); do
  if ((i >= 80)) && grep -q '^ok' /tmp/fl.log 2>/dev/null && grep -q '^error' /tmp/fl.log; then break; fi
  sleep 0.1
done
copy_loop_end /tmp/fl.log /tmp/fl.stop
assert_pool_drained
note "intermittent: $(copy_loop_summary /tmp/fl.log)"
other=$(grep '^error' /tmp/fl.log | grep -v 'Input/output error' || true)
[[ -z $other ]] || fail "a copy failed with something other than EIO: $(head -n 3 <<< "$other")"
grep -q '^ok' /tmp/fl.log && grep -q '^error' /tmp/fl.log || fail "want both outcomes: $(tr '\n' ' ' < /tmp/fl.log)"
same "$n" $((fb * 512)) $((32 * MB)) flakey "bytes below the destinations changed"
printf '0 %d flakey %s %d 1 0\n' $((64 * M)) "$n" $fb | dmsetup load bl-fk && dmsetup resume bl-fk || fail "flakey up"
blkcopy copy "$s" "$f" --dst-offset $((32 * MB)) --length $((16 * MB)) >/dev/null || fail "retry after the faults"
assert_same "$s" 0 "$f" $((32 * MB)) $((16 * MB))

# 4. The NVMe device rejects a Copy command issued for the volume.
# The volume's first 32 MiB are one Copy command (MCL), rejected; the rest
# is copied by the device.
fill_random "$s" 0 $((64 * MB))
echo 1 > /sys/module/blkcopy_nvme/parameters/inject_invalid_format
evidence_begin "$s" "$v"
out=$(blkcopy copy "$s" "$v" --length $((64 * MB)) --json) || fail "copy with a rejected command: $out"
echo 0 > /sys/module/blkcopy_nvme/parameters/inject_invalid_format
assert_same "$s" 0 "$v" 0 $((64 * MB))
b=$(json_field "$out" bytes_offloaded)
((b == 32 * MB)) || fail "want the second half offloaded, the first by the fallback: $out"
expect_device_copied --rejected 1 "$s" $((32 * MB)) "$v" $((32 * MB)) $((32 * MB))
note "rejected command: $b of $((64 * MB)) bytes offloaded, the rest by the fallback"
assert_pool_drained
