# NVMe Copy over NVMe/TCP: the array VM's nvmet passthru target (Debian's
# packaged kernel) forwards the Copy commands of this VM's NVMe/TCP host to
# the array's QEMU NVMe namespace, with its Copy limits (MSSRL/MCL/MSRC)
# passed through Identify; nvmet passthru reports CMIC, so the namespace is
# a multipath head here. Copies on the head are offloaded through its path:
# the bytes match, the array's QEMU trace shows Copy commands with exactly
# the copy's blocks, and the link carries only commands (at most 64 KiB per
# GiB copied). The same copy forced through the host moves at least twice
# its size over the link. With the link shaped to 100 Mbit/s (tc inside
# the array) the offloaded copy still moves only commands, and the host
# copy is held to the link's rate.
array_present || skip_machine "no storage array VM (the network cases run on the test kernel, whose kernel/blkcopy-net.config has the initiators)"
load_nvme_provider
trap 'array_shape none; unload_providers' EXIT
n=$(role nvmf-a)
[[ $(readlink -f "$(sysblk "$n")/device") == */nvme-subsys* ]] || fail "$n is not a multipath head"
j=$(blkcopy info "$n" --json)
grep_q '"provider":"nvme"' <<< "$j" || fail "$n not claimed: $j"
M=$((1 << 20))
for len in 4096 $M $((64 * M)); do
  wire_offloaded "$n" "$n" 0 $((512 * M)) "$len"
  note "$((len / 1024)) KiB offloaded over NVMe/TCP: $WIRE_W bytes through the test VM's interface, $WIRE_AW through the array's"
done
wire_host "$n" "$n" 0 $((768 * M)) $((32 * M))
note "32 MiB through the host: $WIRE_W / $WIRE_AW bytes on the wire"
# The link shaped to 100 Mbit/s inside the array: offload moves commands
# only, the host copy is held to the link's rate.
shaped_copies 100mbit 100000000 "$n" "$n" 0 $((512 * M)) $((64 * M)) $((16 * M))
