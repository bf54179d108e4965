#!/usr/bin/env bash
# blkcopy's benchmark command: set up the host, build the test kernel
# (cached) and the modules, boot the VM once and measure every way of
# copying side by side (tests/vm/bench.sh), then print the report
# (scripts/bench-report.py, with Debian's python3 and its matplotlib):
# markdown tables of ratios, and a PNG plot.
#
# Usage: scripts/bench.sh [--record]
#   --record  also write the report to BENCHMARKS.md and the plot to
#             Documentation/images/bench.png in the repository
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
record=0; [[ ${1:-} == --record ]] && record=1
scripts/setup-host.sh python3 python3-matplotlib
kdir=$(scripts/build-kernel.sh)
make -s KDIR="$kdir" modules
build_guest_tools
run=$(run_dir bench)
rm -rf "$run"; mkdir -p "$run"
log "benchmark VM (TCG unless KVM is usable; 8 GiB: the LIO LUN lives in guest memory)"
# QEMU's NVMe trace with time stamps and command completions: the report
# separates the device's time from the time outside it.
BLKCOPY_QEMU_ARGS="-msg timestamp=on" BLKCOPY_TRACE_EVENTS=pci_nvme_enqueue_req_completion \
  BLKCOPY_VM_MEM=8G scripts/vm.sh "$kdir" "$run" bench 3000 > "$run/vm.out" 2>&1 || { tail -n 30 "$run/vm.out"; die "benchmark VM failed"; }
grep -E '^(==|  |# )' "$run/vm.out" || true
[[ -s $run/bench.jsonl ]] || { tail -n 30 "$run/vm.out"; die "no measurements (see $run/console.log)"; }
grep -q '^bench done' "$run/vm.out" || { tail -n 30 "$run/vm.out"; die "the benchmark did not finish (see $run/console.log)"; }
machine="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) CPUs on the host, guest: 2 vCPUs, 8 GiB"
/usr/bin/python3 scripts/bench-report.py "$run/bench.jsonl" --accel "$(cat "$run/accel")" --machine "$machine" \
  --qemu "$(qemu-system-x86_64 --version | head -n1)" --png "$run/bench.png" --trace "$run/nvme-trace.log" \
  $( ((record)) && echo --notes Documentation/bench-notes.md) > "$run/bench.md"
cat "$run/bench.md"
log "report: $run/bench.md, plot: $run/bench.png"
if ((record)); then
  mkdir -p Documentation/images
  cp "$run/bench.md" BENCHMARKS.md
  [[ -f $run/bench.png ]] && cp "$run/bench.png" Documentation/images/bench.png
  log "recorded in BENCHMARKS.md"
fi
