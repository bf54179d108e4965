#!/usr/bin/env bash
# The benchmark, inside the guest (scripts/bench.sh boots the VM with the
# "bench" entry): every way of copying, side by side, on each device kind,
# for each size, at 1 and 16 concurrent copies, then clone hydration with
# stock dm-clone and with the blkcopy-clone sample. One JSON object per
# measurement goes to $RUN/bench.jsonl; scripts/bench-report.py turns them
# into tables of ratios.
set -u
. tests/vm/lib.sh
OUT=$RUN/bench.jsonl
: > "$OUT"
load_nvme_provider
load_scsi_provider
load_linear_target
insmod "$SRC/blkcopy_clone.ko" || fail "insmod blkcopy_clone"
G=$((1 << 30)) MIB=$((1 << 20))

# A LIO LUN big enough for 1 GiB copies within it (the test LUNs are 512 MiB).
lio_big() {
  local T=/sys/kernel/config/target d W serial=blkcopybench0001 i
  W=$T/loopback/naa.50014050b1c0c0d1/tpgt_1
  d=$T/core/fileio_1/lio-bench
  mkdir -p /lio-bench && mount -t tmpfs -o size=2200M tmpfs /lio-bench || return 1
  truncate -s $((2 * G)) /lio-bench/lio-bench.img
  mkdir -p "$d" || return 1
  echo "fd_dev_name=/lio-bench/lio-bench.img,fd_dev_size=$((2 * G))" > "$d/control" || return 1
  echo "$serial" > "$d/wwn/vpd_unit_serial" || return 1
  echo 1 > "$d/enable" || return 1
  mkdir -p "$W/lun/lun_9" && ln -s "$d" "$W/lun/lun_9/lio-bench" || return 1
  for ((i = 0; i < 100; i++)); do
    for b in /sys/class/block/sd*; do
      [[ $(scsi_serial "$b") == "$serial" ]] && { echo "/dev/$(basename "$b")"; return 0; }
    done
    sleep 0.1
  done
  return 1
}
LIO=$(lio_big) || fail "could not create the 2 GiB LIO LUN"
NVME=$(role nvme-a) HD=$(role scsi-hd)
note "devices: nvme $NVME, lio $LIO, scsi-hd $HD"
# Sources random; destinations written once too, so that no measurement
# pays for first writes (sparse image blocks on the host, tmpfs pages
# behind the LIO LUN) that another mode measured earlier did not.
for d in "$NVME" "$LIO" "$HD"; do
  fill_random "$d" 0 "$G"
  dd if=/dev/zero of="$d" bs=1M seek=1024 count=1024 oflag=direct status=none || fail "prefill $d"
done

# The fallback pool's peak during a command: debugfs blkcopy/pool's
# pages_peak, restarted before it (pool_peak_reset). A sampler polling the
# pool while the command runs takes guest CPU, under TCG the host CPUs the
# emulated devices copy with: one made a 32 MiB NVMe Copy take 7-10 ms in
# the device instead of 4.6 ms.
record() {  # kind extra-json tool-json
  echo "{\"kind\":\"$1\",$2\"pool_max_pages\":$(pool_field pages_peak),${3#\{}" >> "$OUT"
}

# Flush the devices' volatile caches before a measurement: QEMU writes its
# image files back on the host then, not during whichever measurement comes
# next (each would otherwise pay for the host's writeback of the last).
settle() {
  local d
  for d in "$NVME" "$LIO" "$HD"; do dd if=/dev/null of="$d" count=0 conv=fsync,notrunc status=none; done
}

# One run of one mode, recorded with its repetition number (the report
# takes the median by throughput of a mode's repetitions). NVMe runs also
# record where they start and end in QEMU's trace of the device
# (scripts/vm.sh stamps its lines for the benchmark), so that the report can
# tell the device's time from the time spent outside it.
measure() {  # kind dev size copies jobs mode rep
  local kind=$1 dev=$2 size=$3 copies=$4 jobs=$5 mode=$6 rep=$7 out m0 m1 tr=
  settle
  m0=$(trace_lines)
  pool_peak_reset
  out=$(blkcopy-bench "$mode" "$dev" "$dev" --size "$size" --copies "$copies" --jobs "$jobs" \
        --src-offset 0 --dst-offset "$G" --span "$(( size * copies > G ? G : size * copies ))" 2>/tmp/bench.err) || {
    note "$kind $mode $size x$copies j$jobs: $(cat /tmp/bench.err)"
    return 1
  }
  m1=$(trace_lines)
  [[ $kind == nvme ]] && tr="\"trace_from\":$m0,\"trace_to\":$m1,"
  record "$kind" "\"rep\":$rep,$tr" "$out"
  echo "$out" | grep -o '"mib_per_s":[0-9.]*' | cut -d: -f2
}

# Every mode at one size and concurrency, repeated (three times; five
# from 64 MiB up, where a measurement is a few copies and one host-side
# stall would decide it), taking turns (bench_turns).
bench() {  # kind dev size copies jobs modes...
  local kind=$1 dev=$2 size=$3 copies=$4 jobs=$5 reps=3
  shift 5
  ((size >= 64 * MIB)) && reps=5
  bench_turns "$reps" "$kind size=$size copies=$copies jobs=$jobs" "measure $kind $dev $size $copies $jobs" "$@"
}

# copies per measurement: enough for a steady figure, within the 1 GiB area.
copies_for() {  # size jobs
  case $1 in
    4096) echo 512 ;; 65536) echo 256 ;; 1048576) echo 64 ;;
    67108864) [[ $2 == 1 ]] && echo 4 || echo 16 ;;
    *) echo 1 ;;
  esac
}

SIZES="4096 65536 1048576 67108864 1073741824"
for kind in nvme lio scsi-hd; do
  case $kind in nvme) dev=$NVME raw=nvme-raw ;; lio) dev=$LIO raw=sg-raw ;; scsi-hd) dev=$HD raw= ;; esac
  echo "== $kind ($dev)"
  for size in $SIZES; do
    for jobs in 1 16; do
      # 16 concurrent 1 GiB copies would need 16 GiB per device: not run.
      [[ $size == "$G" && $jobs == 16 ]] && continue
      c=$(copies_for "$size" "$jobs")
      # shellcheck disable=SC2086
      bench "$kind" "$dev" "$size" "$c" "$jobs" offload fallback $raw userspace
    done
  done
  # userspace block sizes, to report the best one besides 1 MiB.
  for bs in 65536 4194304 16777216; do
    settle "$dev"
    pool_peak_reset
    out=$(blkcopy-bench userspace "$dev" "$dev" --size $((64 * MIB)) --copies 4 --src-offset 0 --dst-offset "$G" --bs $bs) &&
      record "$kind" "\"bs\":$bs," "$out"
  done
done

# --- Clone hydration: stock dm-clone vs blkcopy-clone, same devices, size,
# region size and data in flight (dm-clone: 64 regions per batch, 256
# regions in flight; blkcopy-clone: 64 regions per copy, 4 copies). --------
HS=$((1024 * 2048)) R=128
uptime_s() { cut -d' ' -f1 /proc/uptime; }
hydrate() {  # kind target-name table hydrated-field rep
  local kind=$1 name=$2 table=$3 field=$4 rep=$5 cpu0 cpu1 io0 io1 t0 t1
  settle "$DEV"
  cpu0=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat)
  io0=$(io_sectors "$DEV")
  t0=$(uptime_s)
  dmsetup create "$name" --table "$table" || { note "dmsetup create $name failed"; return 0; }
  # (asks the kernel every 10 ms without starting processes: a dmsetup
  # loop would compete with the hydration for the CPUs)
  blkcopy-bench wait-hydrated "$name" "$field" --timeout 600 || { note "$name did not hydrate"; dmsetup remove "$name"; return 0; }
  t1=$(uptime_s)
  cpu1=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat)
  io1=$(io_sectors "$DEV")
  local secs hz=100  # /proc/stat counts in USER_HZ
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
  read -r r0 w0 <<< "$io0"; read -r r1 w1 <<< "$io1"
  echo "{\"kind\":\"$kind\",\"mode\":\"$name\",\"rep\":$rep,\"size\":$((HS * 512)),\"copies\":1,\"jobs\":1,\"seconds\":$secs,\"mib_per_s\":$(awk -v s="$secs" -v b=$((HS * 512)) 'BEGIN {printf "%.3f", b / s / 1048576}'),\"cpu_busy_s\":$(awk -v a="$cpu0" -v b="$cpu1" -v hz=$hz 'BEGIN {printf "%.3f", (b - a) / hz}'),\"host_read_bytes\":$(( (r1 - r0) * 512 )),\"host_written_bytes\":$(( (w1 - w0) * 512 )),\"status\":\"$(dmsetup status "$name" | tr -d '"')\"}" >> "$OUT"
  echo "  $kind $name: $secs s"
  dmsetup remove "$name"
}
for kind in nvme lio scsi-hd; do
  case $kind in nvme) DEV=$NVME ;; lio) DEV=$LIO ;; scsi-hd) DEV=$HD ;; esac
  echo "== hydration of 1 GiB on $kind"
  dmsetup create bh-src --table "0 $HS linear $DEV 0"
  dmsetup create bh-dst --table "0 $HS blkcopy-linear $DEV $((1024 * 2048))"
  dmsetup create bh-srcl --table "0 $HS blkcopy-linear $DEV 0"
  # dm-clone's metadata: 16 MiB of nvme-b, zeroed (a fresh format).
  dmsetup create bh-meta --table "0 32768 linear $(role nvme-b) 0"
  # Three turns each, alternating, the first of a turn alternating too
  # (the report takes the median time).
  for r in 0 1 2; do
    for t in $( ((r % 2)) && echo "blkcopy-clone dm-clone" || echo "dm-clone blkcopy-clone"); do
      if [[ $t == dm-clone ]]; then
        dd if=/dev/zero of=/dev/mapper/bh-meta bs=1M count=16 oflag=direct status=none
        hydrate "$kind" dm-clone "0 $HS clone /dev/mapper/bh-meta /dev/mapper/bh-dst /dev/mapper/bh-src $R 0 4 hydration_threshold 256 hydration_batch_size 64" 7 $r
      else
        hydrate "$kind" blkcopy-clone "0 $HS blkcopy-clone /dev/mapper/bh-srcl /dev/mapper/bh-dst $R" 5 $r
      fi
    done
  done
  assert_same /dev/mapper/bh-src 0 /dev/mapper/bh-dst 0 $((HS * 512))
  dmsetup remove bh-meta; dmsetup remove bh-srcl; dmsetup remove bh-dst; dmsetup remove bh-src
done
echo "bench done: $(wc -l < "$OUT") measurements"
