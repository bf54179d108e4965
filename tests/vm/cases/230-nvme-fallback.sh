# What NVMe cannot offload falls back, and the statistics say why:
# - between namespaces of different LBA sizes (no descriptor format copies
#   between them): correct bytes, no Copy in the trace, cross_device;
# - --offload-only between them: EOPNOTSUPP, destination unchanged;
# - a Copy command the device rejects (injected invalid descriptor
#   format): that piece is copied through the host, device_error counted.
load_nvme_provider
trap unload_providers EXIT
a=$(role nvme-a) b=$(role nvme-4k)
fill_random "$a" $((300 << 20)) $((8 << 20))
x0=$(stat_field "$b" fallback_cross_device)
evidence_begin "$a" "$b"
out=$(blkcopy copy "$a" "$b" --src-offset $((300 << 20)) --dst-offset $((400 << 20)) --length $((8 << 20)) --json) || fail "cross-ns copy"
[[ $(json_field "$out" bytes_offloaded) == 0 ]] || fail "cross-ns offloaded: $out"
expect_not_offloaded
assert_same "$a" $((300 << 20)) "$b" $((400 << 20)) $((8 << 20))
[[ $(stat_field "$b" fallback_cross_device) == $((x0 + (8 << 20))) ]] || fail "cross_device not counted"

fill_random "$b" $((500 << 20)) $((1 << 20))
before=$(digest "$b" $((500 << 20)) $((1 << 20)))
err=$(blkcopy copy "$a" "$b" --dst-offset $((500 << 20)) --length $((1 << 20)) --offload-only 2>&1) && fail "offload-only across namespaces succeeded"
[[ $err == *"cannot be offloaded (offload only)"* ]] || fail "$err"
[[ $(digest "$b" $((500 << 20)) $((1 << 20))) == "$before" ]] || fail "destination changed"

# Device error: the first of the commands is rejected by the controller.
fill_random "$a" $((600 << 20)) $((64 << 20))
e0=$(stat_field "$a" fallback_device_error)
echo 1 > /sys/module/blkcopy_nvme/parameters/inject_invalid_format
evidence_begin "$a"
out=$(blkcopy copy "$a" "$a" --src-offset $((600 << 20)) --dst-offset $((700 << 20)) --length $((64 << 20)) --json) || fail "copy with a failed command"
assert_same "$a" $((600 << 20)) "$a" $((700 << 20)) $((64 << 20))
[[ $(json_field "$out" bytes_offloaded) == $((32 << 20)) ]] || fail "want half offloaded, half fallback: $out"
# QEMU's trace: the first command rejected, the second half copied on the device.
expect_device_copied --rejected 1 "$a" $((632 << 20)) "$a" $((732 << 20)) $((32 << 20))
[[ $(stat_field "$a" fallback_device_error) == $((e0 + (32 << 20))) ]] || fail "device_error $(stat_field "$a" fallback_device_error)"

