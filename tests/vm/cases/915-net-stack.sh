# The stacking layers over the network: blkcopy-linear volumes whose lines
# map the array's iSCSI LUNs (one volume over both LUs) and its NVMe/TCP
# namespace carry copy halves down to the network disks, where they are
# paired into EXTENDED COPY and NVMe Copy (the array's LIO trace and QEMU
# trace show exactly the blocks the volumes' tables put the copy on; only
# commands cross the link). blkcopy-clone provisions a VM image the way a
# SAN does: a new LUN (iscsi-b) hydrated from a golden-image LUN (iscsi-a),
# and the same on NVMe/TCP between two volumes of one namespace; every
# region is copied by the array (the target's counters, the array's
# records), the link carries only commands, and the new image is the
# golden one.
array_present || skip_machine "no storage array VM (the network cases run on the test kernel, whose kernel/blkcopy-net.config has the initiators)"
load_linear_target
load_nvme_provider
load_scsi_provider
grep -q '^blkcopy_clone ' /proc/modules || insmod "$SRC/blkcopy_clone.ko" || fail "insmod blkcopy_clone"
trap 'remove_volumes; rmmod blkcopy_clone 2>/dev/null || true; unload_providers' EXIT
a=$(role iscsi-a) b=$(role iscsi-b) n=$(role nvmf-a)
M=2048 MB=$((1 << 20))  # sectors, bytes per MiB
# The providers probe a disk the first time they meet it (Identify data,
# INQUIRY/VPD pages: kilobytes over the link); done here, so that the
# wire counts below are the copies'.
blkcopy info "$a" "$b" > /dev/null || fail "blkcopy info $a $b"
blkcopy info "$n" > /dev/null || fail "blkcopy info $n"

# --- blkcopy-linear: a copy across lines and LUs --------------------------
# va = [iscsi-a @ 64 MiB | iscsi-b @ 64 MiB], 16 MiB each; vb on iscsi-b at
# 128 MiB. va 8..24 MiB -> vb 0: one half of it from iscsi-a to iscsi-b
# (across LUs), the other within iscsi-b.
volume sv-a "0 $((16 * M)) blkcopy-linear $a $((64 * M))
$((16 * M)) $((16 * M)) blkcopy-linear $b $((64 * M))"
volume sv-b "0 $((32 * M)) blkcopy-linear $b $((128 * M))"
wire_offloaded /dev/mapper/sv-a /dev/mapper/sv-b $((8 * MB)) 0 $((16 * MB))
note "blkcopy-linear over iSCSI, 16 MiB across two lines: $WIRE_W / $WIRE_AW bytes on the wire, $WIRE_MS ms"
# The same on the NVMe/TCP head: two lines over one namespace.
volume sv-n "0 $((16 * M)) blkcopy-linear $n $((64 * M))
$((16 * M)) $((16 * M)) blkcopy-linear $n $((256 * M))"
volume sv-m "0 $((32 * M)) blkcopy-linear $n $((512 * M))"
wire_offloaded /dev/mapper/sv-n /dev/mapper/sv-m $((8 * MB)) 0 $((16 * MB))
note "blkcopy-linear over NVMe/TCP, 16 MiB across two lines: $WIRE_W / $WIRE_AW bytes on the wire, $WIRE_MS ms"
remove_volumes

# --- blkcopy-clone: a new image hydrated from a golden one ----------------
# <clone> <src> <dst> <sectors>: the golden image is fresh random bytes,
# the new one holds other bytes; the clone (8 MiB regions) hydrates in the
# background. Every region offloaded (the target's counters; the devices'
# records for the whole range), the link carries only commands, the new
# image equals the golden one.
hydrate() {
  local c=$1 src=$2 dst=$3 len=$(($4 * 512)) w0 a0 w aw
  fill_random "$src" 0 "$len"
  fill_random "$dst" 0 "$len"
  evidence_begin "$src" "$dst"
  w0=$(wire_bytes) a0=$(array_wire_bytes)
  volume "$c" "0 $4 blkcopy-clone $src $dst 16384"
  wait_hydrated "$c" 120
  w=$(($(wire_bytes) - w0)) aw=$(($(array_wire_bytes) - a0))
  (( $(cstat "$c" 4) == len && $(cstat "$c" 5) == 0 && $(cstat "$c" 6) == 0 )) ||
    fail "$c: not all of $len bytes offloaded without errors: $(dmsetup status "$c")"
  expect_offloaded "$src" 0 "$dst" 0 "$len"
  expect_wire_commands "$c hydrating $len bytes" "$len" "$w" "$aw"
  assert_same "$dst" 0 "$src" 0 "$len"
  # Reads of the clone now come from the new image.
  assert_same "/dev/mapper/$c" 0 "$src" 0 $((8 * MB))
  note "$c: $len bytes hydrated ($(cstat "$c" 2) regions) with $w / $aw bytes on the wire"
}
# iSCSI: the golden image's 64 MiB at the start of LUN iscsi-a, the new
# image at the start of LUN iscsi-b (EXTENDED COPY across LUs).
hydrate cl-iscsi "$a" "$b" $((64 * M))
# NVMe/TCP: two volumes of the namespace.
volume cl-ns "0 $((64 * M)) blkcopy-linear $n $((128 * M))"
volume cl-nd "0 $((64 * M)) blkcopy-linear $n $((640 * M))"
hydrate cl-nvmf /dev/mapper/cl-ns /dev/mapper/cl-nd $((64 * M))
assert_pool_drained
