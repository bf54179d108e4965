#!/usr/bin/env bash
# The README demo, inside the guest: every test device with the copy
# capability it reports, as blkcopy will see it.
set -u
. tests/vm/lib.sh
insmod "$BLKCOPY_KO" || exit 1
printf '\n== blkcopy demo: devices and their copy capability ==\n'
printf 'blkcopy module loaded, control node %s (misc %s)\n\n' /dev/blkcopy "$(cat /sys/class/misc/blkcopy/dev)"
printf '%-8s %-10s %9s %6s  %s\n' ROLE DEVICE SIZE LBS "COPY CAPABILITY (device-reported)"
oncs=$(nvme id-ctrl /dev/role/nvme-ctrl | awk '/^oncs/ {print $3}')
ocfs=$(nvme id-ctrl /dev/role/nvme-ctrl | awk '/^ocfs/ {print $3}')
for r in $ROLES; do
  [[ $r == nvme-mp ]] && continue
  d=$(role "$r"); cap=
  case $r in
    nvme-*)
      idns=$(nvme id-ns "$d")
      f() { echo "$idns" | awk -v k="$1" '$1 == k {print $3}'; }
      cap="NVMe Copy: ONCS=$oncs (bit 8 $(( (oncs >> 8) & 1 ))) OCFS=$ocfs MSSRL=$(f mssrl) MCL=$(f mcl) MSRC=$(f msrc)" ;;
    *)
      tpc=$(sg_inq "$(role_sg "$r")" | grep -o '3PC=[01]')
      cap="SCSI $tpc"
      if [[ $tpc == 3PC=1 ]]; then
        p=$(sg_copy_results --params "$(role_sg "$r")" 2>/dev/null)
        seg=$(echo "$p" | sed -n 's/.*[Mm]aximum segment length: *\([0-9]*\).*/\1/p')
        nsd=$(echo "$p" | sed -n 's/.*[Mm]aximum segment descriptor count: *\([0-9]*\).*/\1/p')
        ntd=$(echo "$p" | sed -n 's/.*[Mm]aximum target descriptor count: *\([0-9]*\).*/\1/p')
        cap="$cap EXTENDED COPY(LID1): max segment ${seg:-?} bytes, ${nsd:-?} segment / ${ntd:-?} target descriptors"
      else
        cap="$cap (no third-party copy: EXTENDED COPY unsupported)"
      fi ;;
  esac
  printf '%-8s %-10s %8sM %6s  %s\n' "$r" "$(basename "$d")" $(($(size_bytes "$d") >> 20)) "$(lbs "$d")" "$cap"
done

printf '\n== copies with the blkcopy CLI ==\n'
demo_copy() {  # src-role dst-role len dst-offset [flags]
  local s d mark
  s=$(role "$1"); d=$(role "$2")
  fill_random "$s" 0 "$3"
  mark=$(trace_mark)
  local io_s io_d
  io_s=$(io_sectors "$s"); io_d=$(io_sectors "$d")
  printf '\n$ blkcopy copy %s %s --length %s --dst-offset %s %s   # %s -> %s\n' "$s" "$d" "$3" "$4" "${5:-}" "$1" "$2"
  blkcopy copy "$s" "$d" --length "$3" --dst-offset "$4" ${5:-} --no-progress
  local io_s2 io_d2
  io_s2=$(io_sectors "$s"); io_d2=$(io_sectors "$d")
  if [[ $(digest "$s" 0 "$3") == "$(digest "$d" "$4" "$3")" ]]; then
    echo "  sha256 of source and destination ranges: equal"
  else
    echo "  sha256 of source and destination ranges: DIFFERENT"
  fi
  echo "  QEMU trace: $(trace_copies "$mark") NVMe Copy commands, $(trace_since "$mark" | grep -c '^pci_nvme_copy_source_range') source ranges"
  trace_since "$mark" | grep -m1 -A2 '^pci_nvme_copy cid' | sed 's/^/    /' || true
  echo "  guest block stats during the copy (sectors read/written): $1 $io_s -> $io_s2, $2 $io_d -> $io_d2"
}
insmod "$BLKCOPY_NVME_KO"
insmod "$BLKCOPY_SCSI_KO"
printf '\n$ blkcopy info %s %s\n' "$(role nvme-a)" "$(role nvme-a)"
blkcopy info "$(role nvme-a)" "$(role nvme-a)"
demo_copy nvme-a nvme-a $((256 << 20)) $((1 << 30))
demo_copy nvme-a nvme-a $((256 << 20)) $((1 << 30)) --no-offload
# Between two namespaces of the controller: descriptor format 2h.
printf '\n$ blkcopy info %s %s\n' "$(role nvme-a)" "$(role nvme-b)"
blkcopy info "$(role nvme-a)" "$(role nvme-b)"
demo_copy nvme-a nvme-b $((64 << 20)) $((1 << 30))
# On a multipath head (a namespace two controllers share): through a path.
mp=$(basename "$(role nvme-mp)")
# shellcheck disable=SC2086  # the paths' glob
printf '\n/dev/%s: multipath head over %s\n' "$mp" "$(cd /sys/block && echo ${mp%n*}c*n${mp##*n})"
demo_copy nvme-mp nvme-mp $((64 << 20)) $((256 << 20))
demo_copy lio-a lio-b $((64 << 20)) $((128 << 20))
demo_copy lio-a lio-b $((64 << 20)) $((128 << 20)) --no-offload
demo_copy scsi-hd scsi-hd $((64 << 20)) $((1 << 30))
# Over the storage network (the array VM): one copy on each fabric,
# offloaded and forced through the host, with the bytes that crossed the
# link (both ends' interface counters) and the array's own records.
printf '\n== over the storage network: the array VM (Debian 6.12, LIO iSCSI and nvmet NVMe/TCP) ==\n'
net_copy() {  # src-role dst-role len dst-offset [flags]
  local s d off w aw ms am
  s=$(role "$1"); d=$(role "$2")
  fill_random "$s" 0 "$3"
  am=$(NVME_TRACE=$ARRAY_TRACE trace_mark)
  array ': > /sys/kernel/tracing/trace' > /dev/null
  printf '\n$ blkcopy copy %s %s --length %s --dst-offset %s %s   # %s -> %s\n' "$s" "$d" "$3" "$4" "${5:-}" "$1" "$2"
  read -r off w aw ms <<< "$(wire_copy "$s" "$d" 0 "$4" "$3" --no-progress ${5:-})"
  if [[ $(digest "$s" 0 "$3") == "$(digest "$d" "$4" "$3")" ]]; then eq=equal; else eq=DIFFERENT; fi
  echo "  $off of $3 bytes offloaded in $ms ms; sha256 of source and destination ranges: $eq"
  echo "  on the wire: $w bytes through this VM's interface, $aw through the array's"
  echo "  the array's records: $(NVME_TRACE=$ARRAY_TRACE trace_copies "$am") NVMe Copy commands (its QEMU trace), $(LIO_ON_ARRAY=1 lio_xcopies) EXTENDED COPY (its LIO tracepoints)"
}
if array_present; then
  net_copy iscsi-a iscsi-b $((64 << 20)) $((128 << 20))
  net_copy iscsi-a iscsi-b $((64 << 20)) $((128 << 20)) --no-offload
  net_copy nvmf-a nvmf-a $((64 << 20)) $((512 << 20))
  net_copy nvmf-a nvmf-a $((64 << 20)) $((512 << 20)) --no-offload
else
  echo "(no array VM)"
fi

printf '\n$ blkcopy stats\n'
blkcopy stats
printf '\n$ cat /sys/kernel/debug/blkcopy_nvme/namespaces\n'
cat /sys/kernel/debug/blkcopy_nvme/namespaces
printf '\n$ cat /sys/kernel/debug/blkcopy_scsi/luns\n'
cat /sys/kernel/debug/blkcopy_scsi/luns
echo
rmmod blkcopy_scsi
rmmod blkcopy_nvme
rmmod blkcopy
