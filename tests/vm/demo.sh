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
for r in $ROLES; do
  d=$(role "$r"); cap=
  case $r in
    nvme-*)
      idns=$(nvme id-ns "$d")
      f() { echo "$idns" | awk -v k="$1" '$1 == k {print $3}'; }
      cap="NVMe Copy: ONCS=$oncs (bit 8 $(( (oncs >> 8) & 1 ))) MSSRL=$(f mssrl) MCL=$(f mcl) MSRC=$(f msrc)" ;;
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
echo
rmmod blkcopy
