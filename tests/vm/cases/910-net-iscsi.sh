# EXTENDED COPY over iSCSI: the array VM's LIO target (Debian's packaged
# kernel, nothing of blkcopy) serves three LUNs of one target portal group
# to this VM's open-iscsi initiator over a virtio-net link. The SCSI
# provider discovers third-party copy on them as on local LUNs; copies
# within a LUN and between the two 512-byte LUNs are offloaded: the bytes
# match, the array's own LIO tracepoints show the EXTENDED COPY commands
# and its copy manager's reads and writes of exactly the copy's blocks,
# and the link carries only commands: at most 64 KiB per GiB copied
# (interface counters of both VMs). The same copy forced through the host
# moves at least twice its size over the link. LUNs of different sizes of
# block, and an iSCSI LUN with a local one, fall back (counted). With the
# link shaped to 10 Mbit/s (tc inside the array) the offloaded copy still
# moves only commands, and the host copy is held to the link's rate.
array_present || skip_machine "no storage array VM (the network cases run on the test kernel, whose kernel/blkcopy-net.config has the initiators)"
load_scsi_provider
trap 'array_shape none; unload_providers' EXIT
a=$(role iscsi-a) b=$(role iscsi-b) k=$(role iscsi-4k) l=$(role lio-a)
for p in "$a $a" "$a $b"; do
  j=$(blkcopy info $p --json)
  grep_q '"pair_offload":true' <<< "$j" || fail "$p not offloadable: $j"
done
M=$((1 << 20))
# "<src> <dst> <src off> <dst off> <lengths...>"
for spec in "$a $a 0 $((128 * M)) $M" "$a $b $((16 * M)) $((96 * M)) $((32 * M))"; do
  read -r s d so dof lens <<< "$spec"
  for len in $lens; do
    wire_offloaded "$s" "$d" "$so" "$dof" "$len"
    note "$(basename "$s") -> $(basename "$d") $((len / M)) MiB offloaded: $WIRE_W bytes through the test VM's interface, $WIRE_AW through the array's"
  done
done
# Forced through the host: the data crosses the link twice.
wire_host "$a" "$b" 0 $((160 * M)) $((32 * M))
note "iscsi-a -> iscsi-b 32 MiB through the host: $WIRE_W / $WIRE_AW bytes on the wire"
# No copy between different block sizes, or between the array's LU and a
# local one (no copy manager reaches both): through the host, counted.
for d in "$k" "$l"; do
  x0=$(stat_field "$d" fallback_cross_device)
  fill_random "$a" 0 "$M"
  evidence_begin "$a" "$d"
  out=$(blkcopy copy "$a" "$d" --length "$M" --json) || fail "copy $a -> $d"
  [[ $(json_field "$out" bytes_offloaded) == 0 ]] || fail "$a -> $d offloaded: $out"
  expect_not_offloaded
  assert_same "$a" 0 "$d" 0 "$M"
  [[ $(stat_field "$d" fallback_cross_device) == $((x0 + M)) ]] || fail "$a -> $d: cross_device not counted"
done
# The link shaped to 10 Mbit/s inside the array: offload moves commands
# only, the host copy is held to the link's rate.
shaped_copies 10mbit 10000000 "$a" "$b" $((16 * M)) $((96 * M)) $((16 * M)) $((4 * M))
