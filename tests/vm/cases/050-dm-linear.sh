# Reference for later device-mapper tests: stock dm-linear over nvme-b maps
# sector N of the volume to sector offset+N of the device.
dev=$(role nvme-b)
off=$((64 << 11))   # 64 MiB, in sectors
dmsetup create blkcopy-ref --table "0 $((128 << 11)) linear $dev $off" || fail "dmsetup create"
trap 'dmsetup remove blkcopy-ref' EXIT
vol=/dev/mapper/blkcopy-ref
[[ $(size_bytes "$vol") == $((128 << 20)) ]] || fail "volume size $(size_bytes "$vol")"
fill_random "$vol" $((3 << 20)) $((2 << 20))
assert_same "$vol" $((3 << 20)) "$dev" $(((off << 9) + (3 << 20))) $((2 << 20))
dmsetup table blkcopy-ref | grep_q "^0 $((128 << 11)) linear" || fail "unexpected table"
