# Copies on a multipath head node (CONFIG_NVME_MULTIPATH=y; nvme-mp is the
# namespace of a controller in an NVMe subsystem, reached through its head
# /dev/nvmeXnY): offloaded through a usable path of the head, as the nvme
# driver chooses one for I/O. The bytes match, every byte is reported
# offloaded, QEMU's trace shows the Copy commands with exactly the copy's
# blocks, and the guest's block statistics of the head show no data moved
# by the host.
load_nvme_provider
trap unload_providers EXIT
m=$(role nvme-mp)
[[ $(readlink -f "$(sysblk "$m")/device") == */nvme-subsys* ]] || fail "$m is not a multipath head"
note "head $m"
M=$((1 << 20))
for len in 4096 $M $((64 * M)); do
  copy_checked "$m" "$m" $((16 * M)) $((256 * M)) "$len" "$len"
done
