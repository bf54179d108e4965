# A bounded fuzzer of /dev/blkcopy (tests/uapi-check/src/bin/blkcopy-uapi-fuzz.rs):
# 10,000 BLKCOPY / BLKCOPY_INFO calls with descriptors of every kind (block
# devices opened read-only, write-only and read-write, a partition, a
# regular file, pipe ends, /dev/null, closed and invalid numbers), random
# offsets, lengths, range counts, flags, sizes, reserved fields and bad
# pointers. It ends by itself; every outcome is a documented errno (or a
# copy of exactly what was asked); the kernel log stays clean (checked
# for every test); one call in ten is a well-formed copy whose bytes are
# compared. Outcome counts go to the test log. Then the same through
# io_uring (--ring): 10,000 BLKCOPY_URING_COPY commands with random
# command areas, fds and ranges, up to 8 in flight, some of random bytes
# or an unknown opcode; every CQE a documented errno.
load_nvme_provider
load_scsi_provider
trap 'unload_providers; printf "label: dos\n" | sfdisk -q --wipe always "$d" >/dev/null 2>&1' EXIT
s=$(role nvme-b) d=$(role scsi-hd)
printf 'label: dos\nstart=2048, size=65536\n' | sfdisk -q "$d" || fail "sfdisk"
blockdev --rereadpt "$d" 2>/dev/null || true
for i in $(seq 50); do [[ -b ${d}1 ]] && break; sleep 0.1; done
[[ -b ${d}1 ]] || fail "no partition"
truncate -s 1M /tmp/fuzz-file
for via in "" --ring; do
  start=$(date +%s)
  rc=0
  blkcopy-uapi-fuzz ${via:+"$via"} 20261121 10000 "$s" "$d" "${d}1" /tmp/fuzz-file > /tmp/fuzz.out 2>&1 || rc=$?
  note "${via:-ioctl}: $(tr '\n' ';' < /tmp/fuzz.out) in $(($(date +%s) - start)) s"
  ((rc == 0)) || fail "fuzzer ${via:-ioctl}: $(tail -n 3 /tmp/fuzz.out)"
  grep -q '^calls 10000 undocumented-or-wrong 0$' /tmp/fuzz.out || fail "fuzzer ${via:-ioctl} did not finish: $(tail -n 2 /tmp/fuzz.out)"
  # It reached the copy path, not only the argument checks.
  (( $(awk '$1 == "copy" && $2 == "OK" {print $3}' /tmp/fuzz.out) > 0 )) || fail "${via:-ioctl}: no random call was a valid copy"
  (( $(awk '$1 == "valid" && $2 == "OK" {print $3}' /tmp/fuzz.out) > 500 )) || fail "${via:-ioctl}: too few well-formed copies succeeded"
done
