#!/usr/bin/env bash
# blkcopy's test command: host setup, host unit tests, test kernel (cached),
# modules, then the VM suite. Prints one PASS/FAIL line per test and ends
# with "N passed, N failed"; exits non-zero on any failure, on a guest that
# does not come back, and on kernel warnings in the guest's log.
#
# Usage: scripts/test.sh [PATTERN]   (PATTERN selects VM tests by name)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
pattern=${1:-}
t0=$(date +%s)
pass=0 failed=0

step() { log "$*"; }
bail() { echo "FAIL $1"; echo "$pass passed, $((failed + 1)) failed"; exit 1; }

step "host setup"
scripts/setup-host.sh || bail "host-setup"

step "host unit tests (cargo test)"
if out=$(cargo test --workspace 2>&1); then rc=0; else rc=1; fi
echo "$out" | grep -E '^test .* (ok|FAILED)$' | sed -E 's/^test (.*) \.\.\. ok$/PASS host:\1/; s/^test (.*) \.\.\. FAILED$/FAIL host:\1/'
hp=$(echo "$out" | sed -nE 's/^test result: .* ([0-9]+) passed; ([0-9]+) failed.*/\1/p' | paste -sd+ | bc)
hf=$(echo "$out" | sed -nE 's/^test result: .* ([0-9]+) passed; ([0-9]+) failed.*/\2/p' | paste -sd+ | bc)
pass=$((pass + ${hp:-0})); failed=$((failed + ${hf:-0}))
if ((rc != 0 && ${hf:-0} == 0)); then echo "$out" | tail -20; bail "host-build"; fi

step "host unit tests (benchmark report)"
out=$(python3 -m unittest -v scripts/bench_report_test.py 2>&1)
echo "$out" | sed -nE 's/^(test_[a-z_0-9]+) \(.*\) \.\.\. ok$/PASS host:bench-report:\1/p; s/^(test_[a-z_0-9]+) \(.*\) \.\.\. (FAIL|ERROR)$/FAIL host:bench-report:\1/p'
pass=$((pass + $(echo "$out" | grep -cE '^test_.* \.\.\. ok$')))
failed=$((failed + $(echo "$out" | grep -cE '^test_.* \.\.\. (FAIL|ERROR)$')))
echo "$out" | grep -qE '^OK' || { echo "$out" | tail -20; echo "$out" | grep -qE '^test_' || bail "bench-report-tests"; }

step "userspace tools"
cargo build --release --workspace -q 2>&1 | tail -20
[[ -x target/release/blkcopy ]] || bail "tools-build"
export GUEST_BINS="$REPO_ROOT/target/release/blkcopy $REPO_ROOT/target/release/blkcopy-uapi-check $REPO_ROOT/target/release/blkcopy-uapi-fuzz $REPO_ROOT/target/release/blkcopy-uapi-security $REPO_ROOT/target/release/blkcopy-bench"

step "test kernel"
kdir=$(scripts/build-kernel.sh) || bail "kernel-build"
step "modules"
make -s KDIR="$kdir" modules >/tmp/blkcopy-modules.log 2>&1 || { cat /tmp/blkcopy-modules.log; bail "module-build"; }

step "VM suite"
run=$CACHE_DIR/run-tests; limit=1500
# The debug kernel (KASAN, lockdep) runs the suite several times slower.
[[ $BLKCOPY_KERNEL == debug ]] && { run=$CACHE_DIR/run-tests-debug; limit=7200; }
rm -rf "$run"; mkdir -p "$run"
entry=tests; [[ -n $pattern ]] && entry=tests:$pattern
scripts/vm.sh "$kdir" "$run" "$entry" "$limit" > "$run/vm.out" 2>&1; vmrc=$?
grep -E '^(PASS|FAIL|SKIP) |^    ' "$run/vm.out"
gp=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/p' "$run/vm.out" | tail -n1)
gf=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/p' "$run/vm.out" | tail -n1)
if [[ $vmrc -ne 0 || -z $gp ]]; then
  echo "FAIL vm-guest-returned (see $run/console.log)"; tail -n 30 "$run/console.log" | sed 's/^/    /'
  failed=$((failed + 1))
fi
pass=$((pass + ${gp:-0})); failed=$((failed + ${gf:-0}))

# The whole guest log, once more: nothing a test did may warn.
# (Reports the kernel makes by itself are dropped first: tests/vm/known-kernel-reports.awk.)
re=$(sed -n "s/^KERNEL_BAD_RE='\(.*\)'$/\1/p" tests/vm/lib.sh)
bad=$(for f in dmesg.txt console.log; do
        [[ -f $run/$f ]] && awk -f tests/vm/known-kernel-reports.awk "$run/$f" | grep -E "$re" | sed "s|^|$f: |"
      done | head -n 5)
if [[ -n $bad || ! -s $run/dmesg.txt ]]; then
  echo "FAIL kernel-log-clean"; echo "$bad" | sed 's/^/    /'; failed=$((failed + 1))
else
  echo "PASS kernel-log-clean"; pass=$((pass + 1))
fi
log "wall time $(($(date +%s) - t0)) s (accelerator: $(cat "$run/accel" 2>/dev/null))"
echo "$pass passed, $failed failed"
((failed == 0))
