# What SCSI cannot offload falls back, and the statistics say why:
# - scsi-hd (3PC=0): not claimed, copies fall back; --offload-only fails
#   with EOPNOTSUPP and changes nothing;
# - LUNs with different block sizes: cross_device;
# - COPY ABORTED from the copy manager (an injected unknown source LU):
#   that piece falls back, device_error, the sense is decoded;
# - a target that refuses EXTENDED COPY (LIO with emulate_3pc turned off
#   after discovery answers INVALID COMMAND OPERATION CODE): the piece
#   falls back and no further EXTENDED COPY is sent to it.
load_scsi_provider
trap 'echo 1 > $T/core/fileio_0/lio-b/attrib/emulate_3pc; unload_providers' EXIT
T=/sys/kernel/config/target
h=$(role scsi-hd) a=$(role lio-a) b=$(role lio-b) k=$(role lio-4k)
fill_random "$h" 0 $((4 << 20))
n0=$(stat_field "$h" fallback_no_provider)
blkcopy copy "$h" "$h" --dst-offset $((64 << 20)) --length $((4 << 20)) >/dev/null || fail "scsi-hd copy"
assert_same "$h" 0 "$h" $((64 << 20)) $((4 << 20))
[[ $(stat_field "$h" fallback_no_provider) == $((n0 + (4 << 20))) ]] || fail "scsi-hd: no_provider not counted"
before=$(digest "$h" $((128 << 20)) $((1 << 20)))
err=$(blkcopy copy "$h" "$h" --dst-offset $((128 << 20)) --length $((1 << 20)) --offload-only 2>&1) && fail "offload-only on scsi-hd succeeded"
[[ $err == *"cannot be offloaded (offload only)"* ]] || fail "$err"
[[ $(digest "$h" $((128 << 20)) $((1 << 20))) == "$before" ]] || fail "scsi-hd destination changed"

fill_random "$a" $((16 << 20)) $((2 << 20))
x0=$(stat_field "$k" fallback_cross_device)
blkcopy copy "$a" "$k" --src-offset $((16 << 20)) --dst-offset $((16 << 20)) --length $((2 << 20)) >/dev/null || fail "lio-a -> lio-4k"
assert_same "$a" $((16 << 20)) "$k" $((16 << 20)) $((2 << 20))
[[ $(stat_field "$k" fallback_cross_device) == $((x0 + (2 << 20))) ]] || fail "block-size mismatch not counted as cross_device"

fill_random "$a" $((40 << 20)) $((8 << 20))
e0=$(stat_field "$b" fallback_device_error) ca0=$(scsi_counter copy_aborted)
echo 1 > /sys/module/blkcopy_scsi/parameters/inject_unknown_source
out=$(blkcopy copy "$a" "$b" --src-offset $((40 << 20)) --dst-offset $((40 << 20)) --length $((8 << 20)) --json) || fail "copy with COPY ABORTED"
assert_same "$a" $((40 << 20)) "$b" $((40 << 20)) $((8 << 20))
[[ $(json_field "$out" bytes_offloaded) == 0 ]] || fail "aborted copy counted as offloaded: $out"
[[ $(scsi_counter copy_aborted) == $((ca0 + 1)) ]] || fail "COPY ABORTED not decoded: $(tail -n1 /sys/kernel/debug/blkcopy_scsi/luns)"
[[ $(stat_field "$b" fallback_device_error) == $((e0 + (8 << 20))) ]] || fail "device_error not counted"

echo 0 > $T/core/fileio_0/lio-b/attrib/emulate_3pc
fill_random "$a" $((60 << 20)) $((1 << 20))
r0=$(scsi_counter refusals) c0=$(scsi_counter commands) i0=$(scsi_counter illegal_request)
blkcopy copy "$a" "$b" --src-offset $((60 << 20)) --dst-offset $((60 << 20)) --length $((1 << 20)) >/dev/null || fail "copy to a refusing LU"
assert_same "$a" $((60 << 20)) "$b" $((60 << 20)) $((1 << 20))
[[ $(scsi_counter refusals) == $((r0 + 1)) ]] || fail "refusal not recorded: $(tail -n1 /sys/kernel/debug/blkcopy_scsi/luns)"
i1=$(scsi_counter illegal_request)
for i in 1 2 3; do
  blkcopy copy "$a" "$b" --src-offset $((60 << 20)) --dst-offset $((70 << 20)) --length $((1 << 20)) >/dev/null || fail "copy $i after refusal"
done
assert_same "$a" $((60 << 20)) "$b" $((70 << 20)) $((1 << 20))
[[ $(scsi_counter illegal_request) == "$i1" && $(scsi_counter commands) == "$c0" ]] ||
  fail "EXTENDED COPY sent again to a refusing LU: $(tail -n1 /sys/kernel/debug/blkcopy_scsi/luns)"
grep -q "^disk=$(basename "$b") .* refused=1 " /sys/kernel/debug/blkcopy_scsi/luns || fail "lio-b not marked refused"
