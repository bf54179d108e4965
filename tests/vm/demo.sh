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
cat <<'EOF'
Each pair below copies the same bytes offloaded and through the host
(--no-offload), as the benchmark measures: the destination written
beforehand (no copy pays for allocating QEMU's sparse image), the two
taking turns first, five runs each, medians compared. The devices here are
QEMU's, on this machine: an offloaded copy is QEMU copying between its
image files, while a copy through the host moves every byte through the
emulated guest (TCG, slow). So the ratio says how much guest work offload
saves here, not how fast a real device copies (BENCHMARKS.md measures
that). What offload saves shows in the guest's block statistics (no data
through the guest) and, over a network, in the bytes on the wire.
EOF
REPS=5
# Seconds of one copy, as blkcopy measured it (--json).
timed_copy() {  # src dst len dst-offset [flags]
  local out
  # shellcheck disable=SC2086  # the flags' words
  out=$(blkcopy copy "$1" "$2" --length "$3" --dst-offset "$4" ${5:-} --no-progress --json) || return 1
  sed -E 's/.*"seconds":([0-9.eE+-]+).*/\1/' <<< "$out"
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# Offloaded and through the host, REPS times each, taking turns first.
demo_pair() {  # src-role dst-role len dst-offset
  local s d mark i mode t b0 b1 r w off=() host=() copies=0 xcopies=0 ro=0 wo=0 rh=0 wh=0 mo mh
  s=$(role "$1"); d=$(role "$2")
  fill_random "$s" 0 "$3"
  fill_random "$d" "$4" "$3"
  printf '\n$ blkcopy copy %s %s --length %s --dst-offset %s [--no-offload]   # %s -> %s\n' "$s" "$d" "$3" "$4" "$1" "$2"
  for ((i = 0; i < REPS; i++)); do
    for mode in $( ((i % 2)) && echo "host off" || echo "off host"); do
      mark=$(trace_mark)
      lio_trace_reset
      b0="$(io_sectors "$s") $(io_sectors "$d")"  # (one device: counted twice, halved below)
      if [[ $mode == off ]]; then
        t=$(timed_copy "$s" "$d" "$3" "$4") || { echo "  copy failed"; return; }
        off+=("$t")
      else
        t=$(timed_copy "$s" "$d" "$3" "$4" --no-offload) || { echo "  copy failed"; return; }
        host+=("$t")
      fi
      b1="$(io_sectors "$s") $(io_sectors "$d")"
      read -r r w <<< "$(awk '{print ($5 - $1) + ($7 - $3), ($6 - $2) + ($8 - $4)}' <<< "$b0 $b1")"
      if [[ $mode == off ]]; then
        ro=$((ro + r)) wo=$((wo + w)) copies=$((copies + $(trace_copies "$mark"))) xcopies=$((xcopies + $(lio_xcopies)))
      else
        rh=$((rh + r)) wh=$((wh + w))
      fi
    done
  done
  if [[ $s == "$d" ]]; then ro=$((ro / 2)) wo=$((wo / 2)) rh=$((rh / 2)) wh=$((wh / 2)); fi
  if [[ $(digest "$s" 0 "$3") == "$(digest "$d" "$4" "$3")" ]]; then
    echo "  sha256 of source and destination ranges: equal"
  else
    echo "  sha256 of source and destination ranges: DIFFERENT"
  fi
  mo=$(printf '%s\n' "${off[@]}" | median) mh=$(printf '%s\n' "${host[@]}" | median)
  local label="offloaded:       "
  ((copies + xcopies > 0)) || label="no provider:     "
  printf '  %s median %.3f s of %d runs (%s); device commands: %d NVMe Copy (QEMU'"'"'s trace), %d EXTENDED COPY (LIO'"'"'s tracepoints); guest block I/O: %d/%d sectors read/written\n' \
    "$label" "$mo" "$REPS" "$(printf '%.3f ' "${off[@]}" | sed 's/ $//')" "$copies" "$xcopies" "$ro" "$wo"
  printf '  through the host: median %.3f s of %d runs (%s); guest block I/O: %d/%d sectors read/written\n' \
    "$mh" "$REPS" "$(printf '%.3f ' "${host[@]}" | sed 's/ $//')" "$rh" "$wh"
  if ((copies + xcopies == 0)); then
    echo "  (no copy provider for this device: both copies went through the host)"
    return
  fi
  awk -v o="$mo" -v h="$mh" 'BEGIN { if (o > 0) printf "  time through the host / time offloaded: %.2f (above 1: offload was faster)\n", h / o }'
}
insmod "$BLKCOPY_NVME_KO"
insmod "$BLKCOPY_SCSI_KO"
printf '\n$ blkcopy info %s %s\n' "$(role nvme-a)" "$(role nvme-a)"
blkcopy info "$(role nvme-a)" "$(role nvme-a)"
demo_pair nvme-a nvme-a $((256 << 20)) $((1 << 30))
# Between two namespaces of the controller: descriptor format 2h.
printf '\n$ blkcopy info %s %s\n' "$(role nvme-a)" "$(role nvme-b)"
blkcopy info "$(role nvme-a)" "$(role nvme-b)"
demo_pair nvme-a nvme-b $((64 << 20)) $((1 << 30))
# On a multipath head (a namespace two controllers share): through a path.
mp=$(basename "$(role nvme-mp)")
# shellcheck disable=SC2086  # the paths' glob
printf '\n/dev/%s: multipath head over %s\n' "$mp" "$(cd /sys/block && echo ${mp%n*}c*n${mp##*n})"
demo_pair nvme-mp nvme-mp $((64 << 20)) $((256 << 20))
demo_pair lio-a lio-b $((64 << 20)) $((128 << 20))
# scsi-hd has no third-party copy: both go through the host.
demo_pair scsi-hd scsi-hd $((64 << 20)) $((1 << 30))
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
