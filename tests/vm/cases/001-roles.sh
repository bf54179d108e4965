# Every device role resolves, with the size and logical block size the
# harness configured (scripts/vm.sh, tests/vm/lib.sh).
check() {  # role size-bytes logical-block-size
  local d; d=$(role "$1")
  [[ $(size_bytes "$d") == "$2" ]] || fail "$1 ($d): size $(size_bytes "$d"), want $2"
  [[ $(lbs "$d") == "$3" ]] || fail "$1 ($d): block size $(lbs "$d"), want $3"
  note "$1 -> $d ($2 bytes, $3-byte blocks)"
}
check nvme-a $((2 << 30)) 512
check nvme-b $((2 << 30)) 512
check nvme-4k $((1 << 30)) 4096
check nvme-small $((256 << 20)) 512
check nvme-mp $((512 << 20)) 512
check scsi-hd $((2 << 30)) 512
check lio-a $((512 << 20)) 512
check lio-b $((512 << 20)) 512
check lio-4k $((256 << 20)) 4096
[[ -c /dev/role/nvme-ctrl ]] || fail "no NVMe controller node"
[[ $(cat "$(sysblk "$(role nvme-a)")/device/model" | tr -d ' ') == QEMUNVMeCtrl ]] || fail "nvme-a is not QEMU's controller"
