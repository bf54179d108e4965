# Partitions: offsets are partition-relative, bytes land where the
# partition maps them on the whole disk, and nothing outside the partition
# is ever touched (a copy reaching past its end is refused).
load_blkcopy
disk=$(role scsi-hd)
printf 'label: dos\nstart=2048, size=131072\nstart=264192, size=131072\n' | sfdisk -q "$disk" || fail "sfdisk"
trap 'printf "label: dos\n" | sfdisk -q --wipe always "$disk" >/dev/null 2>&1' EXIT
blockdev --rereadpt "$disk" 2>/dev/null || true
for i in $(seq 50); do [[ -b ${disk}1 && -b ${disk}2 ]] && break; sleep 0.1; done
p1=${disk}1 p2=${disk}2
[[ -b $p1 && -b $p2 ]] || fail "partitions did not appear"
p1_start=$((2048 * 512)) p2_start=$((264192 * 512)) psize=$((131072 * 512))

fill_random "$p1" 0 "$psize"
fill_random "$disk" $((p2_start - (1 << 20))) $((1 << 20))          # just before p2
fill_random "$disk" $((p2_start + psize)) $((1 << 20))               # just after p2
before=$(digest "$disk" $((p2_start - (1 << 20))) $((1 << 20)))$(digest "$disk" $((p2_start + psize)) $((1 << 20)))

# The whole of p1 onto the whole of p2, partition-relative offsets 0.
blkcopy copy "$p1" "$p2" --length "$psize" >/dev/null || fail "p1 -> p2"
assert_same "$disk" "$p1_start" "$disk" "$p2_start" "$psize"
# Inside: 1 MiB from the middle of p1 to the end of p2.
blkcopy copy "$p1" "$p2" --src-offset $((16 << 20)) --dst-offset $((psize - (1 << 20))) --length $((1 << 20)) >/dev/null ||
  fail "p1 -> end of p2"
assert_same "$p1" $((16 << 20)) "$disk" $((p2_start + psize - (1 << 20))) $((1 << 20))
# One block past the end of p2: refused, nothing written.
if blkcopy copy "$p1" "$p2" --src-offset 0 --dst-offset $((psize - 4096)) --length 8192 2>/dev/null; then
  fail "a copy past the end of the partition succeeded"
fi
after=$(digest "$disk" $((p2_start - (1 << 20))) $((1 << 20)))$(digest "$disk" $((p2_start + psize)) $((1 << 20)))
[[ $before == "$after" ]] || fail "bytes outside the destination partition changed"
# Between a partition and another disk, both ways.
fill_random "$(role nvme-a)" $((32 << 20)) $((4 << 20))
blkcopy copy "$(role nvme-a)" "$p1" --src-offset $((32 << 20)) --dst-offset $((8 << 20)) --length $((4 << 20)) >/dev/null || fail "nvme-a -> p1"
assert_same "$(role nvme-a)" $((32 << 20)) "$disk" $((p1_start + (8 << 20))) $((4 << 20))
