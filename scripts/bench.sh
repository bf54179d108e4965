#!/usr/bin/env bash
# blkcopy's benchmark command: set up the host, build the test kernel
# (cached) and the modules, boot the VM once and measure every way of
# copying side by side (tests/vm/bench.sh), then print the report
# (scripts/bench-report.py, with Debian's python3 and its matplotlib):
# markdown tables of ratios, and a PNG plot.
#
# Usage: scripts/bench.sh [--net | --async] [--record]
#   --net     the network part instead: the storage array VM next to the
#             test VM, copies over iSCSI and NVMe/TCP at each link rate
#             (tests/vm/bench-net.sh; about 30 minutes on 2 cores)
#   --async   the asynchronous part instead: copies from one thread through
#             io_uring at queue depths 1, 16 and 64 against 16 threads and
#             one thread of BLKCOPY (tests/vm/bench-async.sh)
#   --record  also write the report to BENCHMARKS.md (each part to its own
#             section: the local part first, then the asynchronous and the
#             network part from their markers on) and the local part's plot
#             to Documentation/images/bench.png in the repository
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
record=0 net=0 async=0
for a in "$@"; do
  case $a in --record) record=1 ;; --net) net=1 ;; --async) async=1 ;; *) die "usage: scripts/bench.sh [--net | --async] [--record]" ;; esac
done
((net + async < 2)) || die "--net and --async are separate runs"
scripts/setup-host.sh python3 python3-matplotlib
kdir=$(scripts/build-kernel.sh)
make -s KDIR="$kdir" modules
build_guest_tools
machine="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) CPUs on the host"
# BENCHMARKS.md: the local part, then the asynchronous part and the network
# part, each from its marker on; each recording replaces its own part.
NET_MARK='<!-- network part: scripts/bench.sh --net -->'
ASYNC_MARK='<!-- async part: scripts/bench.sh --async -->'
# The lines of BENCHMARKS.md before the first of the markers given.
before_mark() { awk -v a="$1" -v b="${2:-}" '$0 == a || (b != "" && $0 == b) { exit } { print }' BENCHMARKS.md; }
# The lines from the marker on (nothing when it is absent).
from_mark() { awk -v m="$1" '$0 == m { print ""; p = 1 } p' BENCHMARKS.md; }
# Boots the benchmark VM(s) with guest entry <entry> (environment settings
# for scripts/vm.sh before it), shows its progress lines, and dies unless it
# wrote <entry>.jsonl and finished.
bench_vm() {  # <entry> <timeout> [VAR=value...]
  local entry=$1 limit=$2
  shift 2
  env "$@" scripts/vm.sh "$kdir" "$run" "$entry" "$limit" > "$run/vm.out" 2>&1 || { tail -n 30 "$run/vm.out"; die "benchmark VM failed"; }
  grep -E '^(==|  |# )' "$run/vm.out" || true
  [[ -s $run/$entry.jsonl ]] || { tail -n 30 "$run/vm.out"; die "no measurements (see $run/console.log)"; }
  grep -q '^bench done' "$run/vm.out" || { tail -n 30 "$run/vm.out"; die "the benchmark did not finish (see $run/console.log)"; }
}
if ((async)); then
  run=$(run_dir bench-async)
  rm -rf "$run"; mkdir -p "$run"
  log "benchmark VM: asynchronous copies"
  bench_vm bench-async 3000
  /usr/bin/python3 scripts/bench-report.py --async "$run/bench-async.jsonl" --accel "$(cat "$run/accel")" \
    --machine "$machine, guest: 2 vCPUs" --qemu "$(qemu-system-x86_64 --version | head -n1)" \
    $( ((record)) && echo --notes Documentation/bench-async-notes.md) > "$run/bench-async.md"
  cat "$run/bench-async.md"
  log "report: $run/bench-async.md"
  if ((record)); then
    { before_mark "$ASYNC_MARK" "$NET_MARK"; echo; cat "$run/bench-async.md"; from_mark "$NET_MARK"; } > "$run/BENCHMARKS.md"
    cp "$run/BENCHMARKS.md" BENCHMARKS.md
    log "recorded in BENCHMARKS.md"
  fi
  exit 0
fi
if ((net)); then
  run=$(run_dir bench-net)
  rm -rf "$run"; mkdir -p "$run"
  log "benchmark VMs: the test VM and the storage array (1 GiB LUNs and a 2.3 GiB namespace)"
  # The array's QEMU stamps its trace lines with the time: the report
  # splits NVMe/TCP runs into the array's device time and the rest.
  bench_vm bench-net 5400 BLKCOPY_ARRAY=1 BLKCOPY_ARRAY_MEM=6G BLKCOPY_ARRAY_LUN_MIB=1024 \
    BLKCOPY_ARRAY_NVME_SIZE=2304M BLKCOPY_ARRAY_QEMU_ARGS="-msg timestamp=on"
  /usr/bin/python3 scripts/bench-report.py --net "$run/bench-net.jsonl" --accel "$(cat "$run/accel")" \
    --machine "$machine, test VM: 2 vCPUs, 4 GiB, array: 1 vCPU, 6 GiB" --qemu "$(qemu-system-x86_64 --version | head -n1)" \
    --trace "$run/array-trace.log" \
    $( ((record)) && echo --notes Documentation/bench-net-notes.md) > "$run/bench-net.md"
  cat "$run/bench-net.md"
  log "report: $run/bench-net.md"
  if ((record)); then
    { before_mark "$NET_MARK"; cat "$run/bench-net.md"; } > "$run/BENCHMARKS.md"
    cp "$run/BENCHMARKS.md" BENCHMARKS.md
    log "recorded in BENCHMARKS.md"
  fi
  exit 0
fi
run=$(run_dir bench)
rm -rf "$run"; mkdir -p "$run"
log "benchmark VM (TCG unless KVM is usable; 8 GiB: the LIO LUN lives in guest memory)"
# QEMU's NVMe trace with time stamps and command completions: the report
# separates the device's time from the time outside it.
bench_vm bench 3000 BLKCOPY_QEMU_ARGS="-msg timestamp=on" BLKCOPY_TRACE_EVENTS=pci_nvme_enqueue_req_completion \
  BLKCOPY_VM_MEM=8G
/usr/bin/python3 scripts/bench-report.py "$run/bench.jsonl" --accel "$(cat "$run/accel")" --machine "$machine, guest: 2 vCPUs, 8 GiB" \
  --qemu "$(qemu-system-x86_64 --version | head -n1)" --png "$run/bench.png" --trace "$run/nvme-trace.log" \
  $( ((record)) && echo --notes Documentation/bench-notes.md) > "$run/bench.md"
cat "$run/bench.md"
log "report: $run/bench.md, plot: $run/bench.png"
if ((record)); then
  mkdir -p Documentation/images
  { cat "$run/bench.md"; if grep -qxF "$ASYNC_MARK" BENCHMARKS.md; then from_mark "$ASYNC_MARK"; else from_mark "$NET_MARK"; fi; } > "$run/BENCHMARKS.md"
  cp "$run/BENCHMARKS.md" BENCHMARKS.md
  [[ -f $run/bench.png ]] && cp "$run/bench.png" Documentation/images/bench.png
  log "recorded in BENCHMARKS.md"
fi
