# blkcopy-clone tells device-mapper about both of its devices, as dm-clone
# does: the clone's queue limits stack the source's and the destination's.
# A 4096-byte source behind a 512-byte destination makes a 4096-byte clone,
# so a sub-block read (which would go to the source, not hydrated) is
# refused at the clone instead of reaching the 4Kn namespace.
load_blkcopy
grep -q '^blkcopy_clone ' /proc/modules || insmod "$SRC/blkcopy_clone.ko" || fail "insmod blkcopy_clone"
trap 'remove_volumes; rmmod blkcopy_clone 2>/dev/null || true' EXIT
M=2048
k=$(role nvme-4k) a=$(role lio-a)
[[ $(lbs "$k") == 4096 && $(lbs "$a") == 512 ]] || fail "roles: nvme-4k $(lbs "$k"), lio-a $(lbs "$a")"
volume cs-dst "0 $((16 * M)) linear $a $((300 * M))"
volume cs "0 $((16 * M)) blkcopy-clone $k /dev/mapper/cs-dst 128 1 no_hydration"
c=/dev/mapper/cs
[[ $(lbs "$c") == 4096 ]] || fail "clone of a 4Kn source: logical block size $(lbs "$c"), want 4096"
q=$(sysblk "$c")/queue
for f in logical_block_size physical_block_size; do
  [[ $(cat "$q/$f") -ge $(cat "$(sysblk "$k")/queue/$f") ]] || fail "$f $(cat "$q/$f") below the source's"
done
r0=$(io_sectors "$k")
if dd if="$c" of=/dev/null bs=512 skip=1 count=1 iflag=direct status=none 2>/dev/null; then
  fail "a 512-byte direct read of the clone succeeded"
fi
[[ $(io_sectors "$k") == "$r0" ]] || fail "a sub-block read reached the 4Kn source"
# Whole blocks read through to the source, as before.
assert_same "$c" 4096 "$k" 4096 $((64 << 10))
# The table still names both devices in order.
dmsetup table cs | grep_q "blkcopy-clone $(cat "$(sysblk "$k")/dev") $(dmsetup info -c --noheadings -o major,minor --separator : cs-dst) 128" ||
  fail "table: $(dmsetup table cs)"
remove_volumes
