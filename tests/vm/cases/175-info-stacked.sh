# BLKCOPY_INFO through blkcopy-linear volumes: a volume reports the stacking
# layer as its provider, with the limits of the devices below, and the
# pair verdict is computed where the volumes' lines land: two volumes on one
# namespace are offloadable (and a copy between them is, by QEMU's trace),
# a volume on NVMe and one on LIO are not (cross_device), a volume on a
# disk without a provider is not (no_provider), and a volume with lines on
# NVMe and on LIO is offloadable to nothing whole.
load_linear_target
load_nvme_provider
load_scsi_provider
trap 'remove_volumes; unload_providers' EXIT
M=2048
n=$(role nvme-a) la=$(role lio-a) h=$(role scsi-hd)
volume bl-i1 "0 $((64 * M)) blkcopy-linear $n $((1500 * M))"; v1=/dev/mapper/bl-i1
volume bl-i2 "0 $((64 * M)) blkcopy-linear $n $((1600 * M))"; v2=/dev/mapper/bl-i2
volume bl-il "0 $((64 * M)) blkcopy-linear $la $((300 * M))"; vl=/dev/mapper/bl-il
volume bl-ih "0 $((64 * M)) blkcopy-linear $h $((300 * M))"; vh=/dev/mapper/bl-ih
volume bl-im "$(printf '0 %d blkcopy-linear %s %d\n%d %d blkcopy-linear %s %d' $((16 * M)) "$n" $((1700 * M)) $((16 * M)) $((16 * M)) "$la" $((400 * M)))"
vm=/dev/mapper/bl-im
jn=$(blkcopy info "$n" --json) || fail "info $n"
j=$(blkcopy info "$v1" --json) || fail "info $v1"
grep_q '"provider":"stacked"' <<< "$j" || fail "volume's provider: $j"
[[ $(json_field "$j" max_copy_bytes) == $(json_field "$jn" max_copy_bytes) && $(json_field "$j" max_ranges) == $(json_field "$jn" max_ranges) ]] ||
  fail "volume's limits are not the namespace's: $j / $jn"
j=$(blkcopy info "$v1" "$v2" --json)
grep_q '"pair_offload":true' <<< "$j" || fail "two volumes on one namespace: $j"
j=$(blkcopy info "$v1" "$n" --json)
grep_q '"pair_offload":true' <<< "$j" || fail "volume and its namespace: $j"
j=$(blkcopy info "$v1" "$vl" --json)
grep_q '"pair_offload":false,"pair_reason":"cross_device"' <<< "$j" || fail "NVMe volume to LIO volume: $j"
j=$(blkcopy info "$vh" "$v1" --json)
grep_q '"pair_offload":false,"pair_reason":"no_provider"' <<< "$j" || fail "scsi-hd volume to NVMe volume: $j"
j=$(blkcopy info "$vm" "$v2" --json)
grep_q '"pair_offload":false,"pair_reason":"cross_device"' <<< "$j" || fail "NVMe+LIO volume to NVMe volume: $j"
grep_q '"provider":"stacked"' <<< "$(blkcopy info "$vm" --json)" || fail "multi-line volume's provider"
# The verdict is what a copy does: offloaded between the two volumes.
copy_checked "$v1" "$v2" 0 0 $((8 << 20)) $((8 << 20))
remove_volumes
