#!/usr/bin/env bash
# The benchmark's asynchronous part, inside the guest (scripts/bench.sh
# --async boots the VM with the "bench-async" entry): the same offloaded
# copies issued three ways, side by side, on an NVMe namespace and a LIO
# LUN, for 4 KiB, 64 KiB, 1 MiB and 64 MiB copies:
#   uring-qd1, uring-qd16, uring-qd64  one thread, BLKCOPY_URING_COPY,
#                                       that many copies in flight
#   sync-j16                           16 threads of synchronous BLKCOPY
#   sync-j1                            one thread of BLKCOPY
#   qd1-pair                           one thread alternating BLKCOPY and
#                                       BLKCOPY_URING_COPY copy by copy, one
#                                       at a time (blkcopy-bench
#                                       latency-pair): the two latencies
#                                       under the same conditions
#   uring-qd16-cpu0, sync-j16-cpu0     uring-qd16 and sync-j16 with every
#                                       thread on the guest's CPU 0 (taskset;
#                                       4 KiB and 64 KiB): one submitting
#                                       thread runs on one vCPU, 16 threads
#                                       on both; pinned, both have one (and
#                                       blk-mq sends all their commands to
#                                       CPU 0's NVMe queue)
# One JSON object per measurement goes to $RUN/bench-async.jsonl (copies
# per second, p50/p99 latency from submission to completion, guest CPU);
# scripts/bench-report.py --async makes the tables and checks the targets.
set -u
. tests/vm/lib.sh
OUT=$RUN/bench-async.jsonl
: > "$OUT"
load_nvme_provider
load_scsi_provider
MIB=$((1 << 20)) AREA=$((256 << 20))
NVME=$(role nvme-a) LIO=$(role lio-a)
note "devices: nvme $NVME, lio $LIO"
# Sources random, destinations written once (no measurement pays for the
# first writes of a sparse image or of tmpfs pages behind the LUN).
for d in "$NVME" "$LIO"; do
  fill_random "$d" 0 "$AREA"
  dd if=/dev/zero of="$d" bs=1M seek=256 count=256 oflag=direct status=none || fail "prefill $d"
done

# Copies per measurement: enough for a steady figure and for 64 in flight;
# repetitions: seven of the short measurements (under TCG one stall of the
# emulated device moves a sub-second one by tens of percent), three of the
# long ones.
copies_for() {  # size
  case $1 in 4096) echo 8192 ;; 65536) echo 4096 ;; 1048576) echo 512 ;; *) echo 64 ;; esac
}
reps_for() {  # size
  if (($1 <= 65536)); then echo 7; else echo 3; fi
}

measure() {  # kind dev size copies mode rep
  local kind=$1 dev=$2 size=$3 copies=$4 mode=$5 rep=$6 out par pin=() how=${5%-cpu0}
  [[ $mode == "$how" ]] || pin=(taskset -c 0)
  case $how in
    uring-qd*) par=(uring --queue-depth "${how#uring-qd}") ;;
    sync-j*) par=(offload --jobs "${how#sync-j}") ;;
    qd1-pair) par=(latency-pair) ;;
  esac
  dd if=/dev/null of="$dev" count=0 conv=fsync,notrunc status=none
  out=$("${pin[@]}" blkcopy-bench "${par[0]}" "$dev" "$dev" --size "$size" --copies "$copies" "${par[@]:1}" \
        --src-offset 0 --dst-offset "$AREA" --span "$(( size * copies > AREA ? AREA : size * copies ))" 2>/tmp/bench.err) || {
    note "$kind $mode $size x$copies: $(cat /tmp/bench.err)"
    return 1
  }
  echo "{\"kind\":\"$kind\",\"variant\":\"$mode\",\"rep\":$rep,${out#\{}" >> "$OUT"
  echo "$out" | grep -o '"mib_per_s":[0-9.]*' | cut -d: -f2
}

for kind in nvme lio; do
  case $kind in nvme) dev=$NVME ;; lio) dev=$LIO ;; esac
  echo "== $kind ($dev)"
  for size in 4096 65536 1048576 $((64 * MIB)); do
    c=$(copies_for "$size")
    pinned=()
    ((size > 65536)) || pinned=(uring-qd16-cpu0 sync-j16-cpu0)
    bench_turns "$(reps_for "$size")" "$kind size=$size copies=$c" "measure $kind $dev $size $c" \
      uring-qd1 uring-qd16 uring-qd64 sync-j16 sync-j1 qd1-pair "${pinned[@]}"
  done
done
echo "bench done: $(wc -l < "$OUT") measurements"
