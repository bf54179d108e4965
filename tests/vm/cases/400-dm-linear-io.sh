# The blkcopy-linear target maps normal I/O like dm-linear: the same fio
# verify workload passes on it and on stock linear over the same layout
# (two lines on two devices), stacked three levels deep and over a
# partition; `dmsetup table` and `status` read like linear's.
load_linear_target
trap 'remove_volumes; unload_providers' EXIT
a=$(role nvme-b) b=$(role scsi-hd)
M=2048   # sectors per MiB
table() {  # target
  printf '0 %d %s %s %d\n%d %d %s %s %d\n' $((32 * M)) "$1" "$a" $((100 * M)) $((32 * M)) $((32 * M)) "$1" "$b" $((300 * M))
}
volume bl-io "$(table blkcopy-linear)"; ours=/dev/mapper/bl-io
[[ $(dmsetup table bl-io) == "$(table blkcopy-linear | sed "s|$a|$(cat /sys/class/block/$(basename "$a")/dev)|; s|$b|$(cat /sys/class/block/$(basename "$b")/dev)|")" ]] ||
  fail "table: $(dmsetup table bl-io)"
dmsetup status bl-io | grep_q "^0 $((32 * M)) blkcopy-linear" || fail "status: $(dmsetup status bl-io)"
run_fio() {  # device
  fio --name=verify --filename="$1" --rw=randwrite --bs=4k --bsrange=4k-64k --size=64M --direct=1 \
      --ioengine=psync --verify=crc32c --verify_fatal=1 --do_verify=1 --randseed=42 \
      --output=/tmp/fio.out >/dev/null 2>&1 || { cat /tmp/fio.out; return 1; }
  grep -q 'err= 0' /tmp/fio.out
}
# What a volume holds is what the two lines map: the first 32 MiB from
# nvme-b at 100 MiB, the next from scsi-hd at 300 MiB.
maps_like_linear() {  # volume
  assert_same "$1" 0 "$a" $((100 << 20)) $((32 << 20))
  assert_same "$1" $((32 << 20)) "$b" $((300 << 20)) $((32 << 20))
}
run_fio "$ours" || fail "fio verify on blkcopy-linear"
maps_like_linear "$ours"
# Write-zeroes, discard and flush pass through to the device below.
blkdiscard -z -o $((4 << 20)) -l $((1 << 20)) "$ours" || fail "write zeroes"
head -c $((1 << 20)) /dev/zero > /tmp/zero-1m
assert_file_same /tmp/zero-1m "$a" $(((100 + 4) << 20)) $((1 << 20))
blkdiscard -o $((40 << 20)) -l $((1 << 20)) "$ours" || fail "discard"
blockdev --flushbufs "$ours" || fail "flush"
remove_volumes
volume bl-ref "$(table linear)"; ref=/dev/mapper/bl-ref
run_fio "$ref" || fail "fio verify on stock linear"
maps_like_linear "$ref"
remove_volumes
# Queue limits stack through iterate_devices exactly as for linear: on the
# 4096-byte namespace both volumes report the same limits.
k=$(role nvme-4k)
volume bl-ql "0 $((64 * M)) blkcopy-linear $k $((64 * M))"
volume bl-qr "0 $((64 * M)) linear $k $((64 * M))"
for f in logical_block_size physical_block_size max_sectors_kb max_hw_sectors_kb discard_max_bytes \
         write_zeroes_max_bytes minimum_io_size optimal_io_size max_segments; do
  ql=$(cat "$(sysblk /dev/mapper/bl-ql)/queue/$f")
  qr=$(cat "$(sysblk /dev/mapper/bl-qr)/queue/$f")
  [[ -n $ql && $ql == "$qr" ]] || fail "queue/$f: blkcopy-linear '$ql', linear '$qr'"
done
[[ $(lbs /dev/mapper/bl-ql) == 4096 ]] || fail "4096-byte blocks not stacked"
remove_volumes
# Ioctls pass through to the device below, as with dm-linear (SCSI
# commands on a volume that maps a whole LUN).
la=$(role lio-a)
volume bl-sg "0 $(blockdev --getsz "$la") blkcopy-linear $la 0"
sg_inq /dev/mapper/bl-sg | grep_q 'LIO-ORG' || fail "SG_IO did not reach the LUN through the volume"
remove_volumes
# Three levels of blkcopy-linear, the bottom one over a partition.
printf 'label: dos\nstart=2048, size=262144\n' | sfdisk -q "$b" || fail "sfdisk"
blockdev --rereadpt "$b" 2>/dev/null || true
for i in $(seq 50); do [[ -b ${b}1 ]] && break; sleep 0.1; done
volume bl-l1 "0 $((100 * M)) blkcopy-linear ${b}1 $((10 * M))"; l1=/dev/mapper/bl-l1
volume bl-l2 "0 $((90 * M)) blkcopy-linear $l1 $((5 * M))"; l2=/dev/mapper/bl-l2
volume bl-l3 "0 $((80 * M)) blkcopy-linear $l2 $((5 * M))"; l3=/dev/mapper/bl-l3
fill_random "$l3" $((1 * 1048576)) $((4 << 20))
assert_same "$l3" $((1 << 20)) "$b" $(( (2048 + 20 * M + 1 * M) * 512 )) $((4 << 20))
remove_volumes
printf 'label: dos\n' | sfdisk -q --wipe always "$b" >/dev/null 2>&1
