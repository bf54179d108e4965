# Every bad BLKCOPY/BLKCOPY_INFO input gets its documented errno
# (tests/uapi-check), and none of them changes a byte of the destination.
# The same copies through io_uring (BLKCOPY_URING_COPY) get the same errnos
# in their CQEs, and so do the malformed commands only the ring has (a
# 64-byte-SQE ring, an inline range with a ranges pointer, bad cancels).
load_blkcopy
src=$(role nvme-a) dst=$(role scsi-hd)
printf 'label: dos\nstart=2048, size=65536\n' | sfdisk -q "$dst" || fail "sfdisk"
trap 'printf "label: dos\n" | sfdisk -q --wipe always "$dst" >/dev/null 2>&1' EXIT
blockdev --rereadpt "$dst" 2>/dev/null || true
for i in $(seq 50); do [[ -b ${dst}1 ]] && break; sleep 0.1; done
fill_random "$dst" $((1 << 20)) $((40 << 20))
before=$(digest "$dst" 0 $((64 << 20)))
truncate -s 1M /tmp/regular-file
blkcopy-uapi-check "$src" "$dst" "$(role nvme-4k)" "${dst}1" /tmp/regular-file || fail "some input got the wrong errno"
blkcopy-uapi-check --ring "$src" "$dst" "$(role nvme-4k)" "${dst}1" /tmp/regular-file ||
  fail "some input through io_uring got the wrong errno"
[[ $(digest "$dst" 0 $((64 << 20))) == "$before" ]] || fail "a refused copy changed the destination"
