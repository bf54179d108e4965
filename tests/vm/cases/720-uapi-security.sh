# uAPI security (tests/uapi-check/src/bin/blkcopy-uapi-security.rs): what
# the ioctls write back (every output field, nothing else, nothing on a
# refused call), overflow in lengths and range counts, another process
# holding the destination exclusively (BLKCOPY allowed exactly as
# pwrite(2) through the same descriptor), and an unprivileged user with
# descriptors root opened (their open modes hold, nothing else opens).
# Then an active swap device as destination: ETXTBSY, as for write(2),
# and not a byte changes.
load_blkcopy
a=$(role nvme-a) b=$(role nvme-b)
blkcopy-uapi-security "$a" "$b" "$(role scsi-hd)" || fail "a security check failed"

M=2048
volume bl-swap "0 $((64 * M)) linear $b $((1000 * M))"
trap 'swapoff /dev/mapper/bl-swap 2>/dev/null || true; remove_volumes' EXIT
sw=/dev/mapper/bl-swap
mkswap "$sw" >/dev/null && swapon "$sw" || fail "swapon"
[[ $(wc -l < /proc/swaps) -ge 2 ]] || fail "not in /proc/swaps: $(cat /proc/swaps)"
before=$(digest "$sw" 0 $((64 << 20)))
err=$(blkcopy copy "$a" "$sw" --dst-offset $((1 << 20)) --length $((1 << 20)) 2>&1) && fail "copy onto active swap succeeded"
[[ $err == "blkcopy: $sw is an active swap device" ]] || fail "want the swap rule (ETXTBSY), got: $err"
dd if=/dev/zero of="$sw" bs=4096 count=1 seek=256 oflag=direct status=none 2>/dev/null && fail "write(2) onto active swap succeeded (the rule BLKCOPY follows changed)"
[[ $(digest "$sw" 0 $((64 << 20))) == "$before" ]] || fail "swap bytes changed"
swapoff "$sw" || fail "swapoff"
blkcopy copy "$a" "$sw" --dst-offset $((1 << 20)) --length $((1 << 20)) >/dev/null || fail "copy after swapoff"
assert_same "$a" 0 "$sw" $((1 << 20)) $((1 << 20))
