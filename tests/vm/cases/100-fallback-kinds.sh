# Fallback copies through BLKCOPY between every kind of device: within
# scsi-hd, NVMe to NVMe, LIO to LIO, across kinds, and between 4096-byte
# devices. Bytes compared every time; nothing is offloaded yet (no provider
# is loaded), so every byte is counted as copied through the host, and
# the devices issued no Copy or EXTENDED COPY command.
load_blkcopy
copy_and_check() {  # src-role dst-role src-off dst-off len
  local s d out
  s=$(role "$1"); d=$(role "$2")
  fill_random "$s" "$3" "$5"
  fill_random "$d" "$4" "$5"
  assert_differ "$s" "$3" "$d" "$4" "$5"
  evidence_begin "$s" "$d"
  out=$(blkcopy copy "$s" "$d" --src-offset "$3" --dst-offset "$4" --length "$5" --json) ||
    fail "blkcopy copy $1 -> $2 failed"
  [[ $(json_field "$out" bytes_copied) == "$5" ]] || fail "$1 -> $2: copied $(json_field "$out" bytes_copied), want $5"
  [[ $(json_field "$out" bytes_offloaded) == 0 ]] || fail "$1 -> $2: offloaded without a provider: $out"
  expect_not_offloaded
  assert_same "$s" "$3" "$d" "$4" "$5"
  note "$1 -> $2: $5 bytes ok"
}
copy_and_check scsi-hd scsi-hd $((1 << 20)) $((512 << 20)) $((4 << 10))
copy_and_check scsi-hd scsi-hd $((3 << 20)) $((600 << 20)) $(((64 << 20) + 4096))
copy_and_check nvme-a nvme-b 0 $((100 << 20)) $((64 << 20))
copy_and_check nvme-a nvme-b $((512 * 7)) $((512 * 13)) 512
copy_and_check lio-a lio-b $((2 << 20)) $((8 << 20)) $((16 << 20))
copy_and_check nvme-a scsi-hd $((200 << 20)) $((700 << 20)) $((3 << 20))
copy_and_check lio-a nvme-b $((40 << 20)) $((300 << 20)) $((1 << 20))
copy_and_check scsi-hd lio-4k $((8 << 20)) $((4 << 20)) $((2 << 20))
copy_and_check nvme-4k lio-4k $((1 << 20)) $((64 << 20)) $((8 << 20))
