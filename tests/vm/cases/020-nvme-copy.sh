# Oracle: nvme-cli's Copy on the Copy-capable namespaces. The bytes match
# afterwards and QEMU's trace shows the device performed the copy.
ctrl=/dev/role/nvme-ctrl
oncs=$(nvme id-ctrl "$ctrl" | awk '/^oncs/ {print $3}')
(( (oncs >> 8) & 1 )) || fail "ONCS $oncs: Copy not supported"

copy_on() {  # role src-lba dst-lba nlb
  local dev nsid lb mark log
  dev=$(role "$1"); lb=$(lbs "$dev"); nsid=$(cat "$(sysblk "$dev")/nsid")
  fill_random "$dev" $(($2 * lb)) $(($4 * lb))
  fill_random "$dev" $(($3 * lb)) $(($4 * lb))
  assert_differ "$dev" $(($2 * lb)) "$dev" $(($3 * lb)) $(($4 * lb))
  mark=$(trace_mark)
  nvme copy "$dev" --sdlba="$3" --slbs="$2" --blocks=$(($4 - 1)) | grep_q 'NVMe Copy: success' ||
    fail "nvme copy on $1 failed"
  assert_same "$dev" $(($2 * lb)) "$dev" $(($3 * lb)) $(($4 * lb))
  log=$(trace_since "$mark")
  echo "$log" | grep_q "pci_nvme_copy cid [0-9]* nsid $nsid nr 1 format 0x0" || fail "no Copy command in trace: $log"
  echo "$log" | grep_q "pci_nvme_copy_source_range slba $(printf '0x%x' "$2") nlb $4" || fail "source range missing in trace: $log"
  echo "$log" | grep_q "pci_nvme_copy_out slba $(printf '0x%x' "$3") nlb $4" || fail "copy-out missing in trace: $log"
  note "$1: copied $4 LBAs $2 -> $3 on the device"
}
copy_on nvme-a 2048 40960 256
copy_on nvme-4k 256 5120 64
