# The in-kernel C API: samples/blkcopy_sample.ko calls blkcopy_copy() with
# two block devices, waits for the asynchronous end_io and reports the
# result; bytes compared. Invalid arguments are refused at the call.
load_blkcopy
ko=$SRC/samples/blkcopy_sample.ko
s=$(role nvme-a) d=$(role lio-b)
fill_random "$s" $((10 << 20)) $((3 << 20))
insmod "$ko" src="$s" dst="$d" src_sector=$((10 << 11)) dst_sector=$((50 << 11)) nr_sects=$((3 << 11)) ||
  fail "sample copy failed: $(dmesg | grep blkcopy_sample | tail -n1)"
rmmod blkcopy_sample
dmesg | grep_q "blkcopy_sample: status 0 copied $((3 << 20)) offloaded 0" || fail "no result line: $(dmesg | grep blkcopy_sample | tail -n1)"
assert_same "$s" $((10 << 20)) "$d" $((50 << 20)) $((3 << 20))
insmod "$ko" src="$s" dst="$d" nr_sects=0 2>/dev/null && fail "zero-length copy accepted"
dmesg | grep_q "blkcopy_sample: not started: -22" || fail "zero length not refused with EINVAL"
insmod "$ko" src="$s" dst="$s" src_sector=0 dst_sector=8 nr_sects=16 2>/dev/null && fail "overlapping copy accepted"
insmod "$ko" src="$s" dst="$d" nr_sects=64 flags=1 2>/dev/null && fail "offload-only without provider succeeded"
dmesg | grep_q "blkcopy_sample: status -95 copied 0 offloaded 0" || fail "offload-only did not end with EOPNOTSUPP"
true
