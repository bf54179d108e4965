#!/usr/bin/env bash
# The benchmark's network part, inside the guest (scripts/bench.sh --net
# boots the VM with the storage array VM next to it, "bench-net" entry):
# every way of copying over each fabric, side by side, at each link rate
# (tc inside the array: unshaped, 100 Mbit/s, 10 Mbit/s). iSCSI copies go
# from LUN iscsi-a to LUN iscsi-b (EXTENDED COPY across LUs of the
# array), NVMe/TCP copies within the nvmf-a namespace (its multipath
# head). One JSON object per measurement goes to $RUN/bench-net.jsonl,
# with the bytes through both VMs' interfaces; scripts/bench-report.py
# --net turns them into tables of ratios.
#
# Modes (blkcopy-bench): offload (BLKCOPY), raw (the device command from
# userspace: sg-raw's EXTENDED COPY through SG_IO, nvme-raw's NVMe Copy
# through the passthrough ioctl, split as the providers split them),
# fallback (BLKCOPY with NO_OFFLOAD: the in-kernel read/write copy),
# userspace (O_DIRECT pread/pwrite, 1 MiB).
#
# What is measured where (a copy through the host moves its bytes twice
# over a link that carries about 5-10 MB/s of payload under TCG, and
# 1.25 MB/s at 10 Mbit/s: a 1 GiB host copy takes minutes):
#   unshaped   64 MiB x1 (3 repetitions), 64 MiB x8 and 256 MiB x1 every
#              mode; 256 MiB x8 offload and raw; 1 GiB x1 offload, raw,
#              fallback (8 concurrent 1 GiB copies would need 8 GiB per
#              LUN: not run)
#   100mbit    64 MiB x1 every mode; 256 MiB x1 offload, raw, fallback;
#              1 GiB x1 offload and raw
#   10mbit     64 MiB x1 offload, raw, fallback; 256 MiB and 1 GiB x1
#              offload and raw
# The modes take turns within each point, their order rotating between
# repetitions. For offload and raw, the array's own records give the
# device commands each run sent and how many were in flight at most:
# EXTENDED COPY in its LIO trace (reset before the run), NVMe Copy in its
# QEMU trace (time-stamped for the benchmark: the report also splits the
# wall time into the device's and the rest).
set -u
. tests/vm/lib.sh
OUT=$RUN/bench-net.jsonl
: > "$OUT"
array_present || fail "no storage array VM"
load_nvme_provider
load_scsi_provider
G=$((1 << 30)) MIB=$((1 << 20))
A=$(role iscsi-a) B=$(role iscsi-b) N=$(role nvmf-a)
for d in "$A" "$B"; do (($(size_bytes "$d") >= G)) || fail "$d is smaller than 1 GiB: the array needs blkcopy.lun_mib (scripts/bench.sh --net)"; done
(($(size_bytes "$N") >= 2 * G + 64 * MIB)) || fail "$N is smaller than 2 GiB"
note "devices: iscsi $A -> $B, nvmf $N (0 -> 1 GiB + 64 MiB)"
NDST=$((G + 64 * MIB))
# The providers probe a disk the first time they meet it (Identify data,
# INQUIRY/VPD pages over the link): done here, not in the first run.
blkcopy info "$A" "$B" > /dev/null && blkcopy info "$N" > /dev/null || fail "blkcopy info"
# Every block a copy can touch written once beforehand, inside the array
# (zeros: no copy engine here treats them specially, and writing them over
# the link would take minutes), so that no measurement pays for first
# writes (tmpfs pages behind the LUNs, sparse blocks of the array's NVMe
# image on the host).
out=$(array "for f in /tmp/iscsi-a.img /tmp/iscsi-b.img; do dd if=/dev/zero of=\$f bs=1M count=$((G / MIB)) conv=notrunc 2>&1 || exit 1; done
  dd if=/dev/zero of=/dev/nvme0n1 bs=1M count=$(((NDST + G) / MIB)) 2>&1 && sync") || fail "array: prefill: $out"

settle() {
  local d
  for d in "$A" "$B" "$N"; do dd if=/dev/null of="$d" count=0 conv=fsync,notrunc status=none; done
}

# The array's record of one run's device commands, as JSON members:
# "array_commands" (started), "array_max_inflight" (most started and not
# yet completed at once); for NVMe also where the run is in the array's
# QEMU trace ("trace_from", "trace_to": lines).
array_commands() {  # fabric trace-lines-before trace-lines-after
  local c
  if [[ $1 == iscsi ]]; then
    c=$(LIO_ON_ARRAY=1 lio_trace | awk '
      /target_sequencer_start: [^ ].* CDB 83 / { n++; open++; if (open > max) max = open }
      /target_cmd_complete: [^ ].* CDB 83 / { if (open > 0) open-- }
      END { printf "%d %d", n, max }')
  else
    c=$(sed -n "$(($2 + 1)),$3p" "$ARRAY_TRACE" | sed -E 's/^[0-9]+@[0-9.]+://' | awk '
      /^pci_nvme_copy cid/ { n++; open[$3] = 1; k++; if (k > max) max = k }
      /^pci_nvme_enqueue_req_completion cid/ && ($3 in open) { delete open[$3]; k-- }
      END { printf "%d %d", n, max }')
    echo -n "\"trace_from\":$2,\"trace_to\":$3,"
  fi
  echo -n "\"array_commands\":${c% *},\"array_max_inflight\":${c#* },"
}

# One run of one mode, recorded with the fabric, the link rate, the
# repetition number and the bytes through both interfaces.
measure() {  # fabric rate size copies mode rep
  local fabric=$1 rate=$2 size=$3 copies=$4 mode=$5 rep=$6 src dst doff out w0 a0 w1 a1 t0 t1 bmode=$5
  case $fabric in
    iscsi) src=$A dst=$B doff=0; [[ $mode == raw ]] && bmode=sg-raw ;;
    nvmf) src=$N dst=$N doff=$NDST; [[ $mode == raw ]] && bmode=nvme-raw ;;
  esac
  settle
  pool_peak_reset
  array ': > /sys/kernel/tracing/trace' || fail "array: LIO trace reset"
  t0=$(NVME_TRACE=$ARRAY_TRACE trace_lines)
  w0=$(wire_bytes) a0=$(array_wire_bytes)
  out=$(blkcopy-bench "$bmode" "$src" "$dst" --size "$size" --copies "$copies" --jobs "$copies" \
        --src-offset 0 --dst-offset "$doff" --span "$(( size * copies > G ? G : size * copies ))" 2>/tmp/bench.err) || {
    note "$fabric $rate $mode $size x$copies: $(cat /tmp/bench.err)"
    return 1
  }
  w1=$(wire_bytes) a1=$(array_wire_bytes)
  t1=$(NVME_TRACE=$ARRAY_TRACE trace_lines)
  out=${out/\"mode\":\"$bmode\"/\"mode\":\"$mode\"}
  echo "{\"kind\":\"net-$fabric\",\"rate\":\"$rate\",\"rep\":$rep,\"wire_bytes\":$((w1 - w0)),\"array_wire_bytes\":$((a1 - a0)),\"pool_max_pages\":$(pool_field pages_peak),$(array_commands "$fabric" "$t0" "$t1")${out#\{}" >> "$OUT"
  echo "$out" | grep -o '"mib_per_s":[0-9.]*' | cut -d: -f2
}

# The modes of one point (copies concurrent, one thread each), taking
# turns <reps> times (bench_turns).
point() {  # fabric rate size copies reps modes...
  local fabric=$1 rate=$2 size=$3 copies=$4 reps=$5
  shift 5
  bench_turns "$reps" "$fabric $rate size=$size copies=$copies" "measure $fabric $rate $size $copies" "$@"
}

ALL="offload raw fallback userspace" DEV="offload raw"
for rate in none 100mbit 10mbit; do
  array_shape "$rate"
  for fabric in iscsi nvmf; do
    echo "== $fabric, link $rate"
    case $rate in
      none)
        point $fabric $rate $((64 * MIB)) 1 3 $ALL
        point $fabric $rate $((64 * MIB)) 8 1 $ALL
        point $fabric $rate $((256 * MIB)) 1 1 $ALL
        point $fabric $rate $((256 * MIB)) 8 1 $DEV
        point $fabric $rate "$G" 1 1 $DEV fallback ;;
      100mbit)
        point $fabric $rate $((64 * MIB)) 1 1 $ALL
        point $fabric $rate $((256 * MIB)) 1 1 $DEV fallback
        point $fabric $rate "$G" 1 1 $DEV ;;
      10mbit)
        point $fabric $rate $((64 * MIB)) 1 1 $DEV fallback
        point $fabric $rate $((256 * MIB)) 1 1 $DEV
        point $fabric $rate "$G" 1 1 $DEV ;;
    esac
  done
done
array_shape none
echo "bench done: $(wc -l < "$OUT") measurements"
