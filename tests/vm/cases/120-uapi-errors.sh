# Every bad BLKCOPY/BLKCOPY_INFO input gets its documented errno
# (tests/uapi-check), and none of them changes a byte of the destination.
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
[[ $(digest "$dst" 0 $((64 << 20))) == "$before" ]] || fail "a refused copy changed the destination"
