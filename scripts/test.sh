#!/usr/bin/env bash
# blkcopy's test command: host setup, host unit tests, the userspace tools,
# the test kernel (cached) and modules, the VM suite; then, in a whole run,
# the debug smoke run: the core, provider, dm, kcopyd and fault cases on
# the KASAN/lockdep/kmemleak kernel. Prints one PASS/FAIL/SKIP line per
# test and ends with "N passed, N failed"; exits non-zero on any failure.
#
# The host counts the guest's results against the cases it selected: a case
# with no result, a pattern that selects nothing, a skip that does not name
# what this machine lacks, a guest that does not come back, a kernel log
# with a warning (from boot to power-off) or with lost records: each fails.
#
# Usage: scripts/test.sh [PATTERNS]
#   PATTERNS  comma-separated parts of VM case names: only those cases run
#             (and no debug smoke run)
# Environment: BLKCOPY_KERNEL=debug runs the whole suite on the debug
# kernel instead; BLKCOPY_DEBUG_SMOKE=0 leaves the debug smoke run out.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$REPO_ROOT/tests/vm/select.sh"
cd "$REPO_ROOT"
pattern=${1:-}
t0=$(date +%s)
pass=0 failed=0 skipped=0

# The cases of the debug smoke run: the core (module load, concurrent
# copies, the fallback's reserve under failing allocations, fatal signals,
# asynchronous copies stopped in flight (kmemleak), C API), both providers (fallbacks, device errors), the NVMe provider's
# multipath paths (250: path chosen and referenced under SRCU), the kcopyd
# adapter, and the fault tests (800 also copies through straddling table
# lines and reloads tables; 890 removes a controller under its commands).
# 430 (flushes, ext4) is left to the whole
# debug run: its buffered writes let a later SCSI disk removal (830) trip a
# lockdep report of the kernel's own (tests/vm/known-kernel-reports.awk),
# after which lockdep is off for the cases that follow. The cases that copy
# hundreds of MiB through the host or split into many commands (100, 130,
# 210, 220, 310, 410), 840 (provider unloads, each draining Copy commands
# on a throttled namespace: over 10 minutes under KASAN), and, since the
# network cases joined the normal suite, 420 (100 reloads, 190 s here) and
# 895 (a path removed, 138 s; 890 keeps the removal path under KASAN) are
# left to the whole debug run; the budget is a cold CI run under 75 minutes.
DEBUG_SMOKE_CASES=010-,140-,155-,180-,185-,190-,230-,250-,320-,500-,800-,830-,890-

step() { log "$*"; }
result() {  # PASS|FAIL <name> [detail]
  echo "$1 $2${3:+ $3}"
  if [[ $1 == PASS ]]; then pass=$((pass + 1)); else failed=$((failed + 1)); fi
}
bail() { result FAIL "$1"; echo "$pass passed, $failed failed"; exit 1; }

step "host setup"
scripts/setup-host.sh || bail "host-setup"
log "kernel source: linux-source-6.12 $(kernel_pkg_version); $(qemu-system-x86_64 --version | head -n 1); $(rustc --version) for the kernel"

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

step "host tests (harness evidence checkers)"
out=$(tests/harness/checkers_test.sh 2>&1)
echo "$out" | grep -E '^(PASS|FAIL) '
pass=$((pass + $(echo "$out" | grep -c '^PASS '))); failed=$((failed + $(echo "$out" | grep -c '^FAIL ')))
echo "$out" | grep -q '^PASS ' || { echo "$out" | tail -5; bail "harness-tests"; }

step "userspace tools"
build_guest_tools || bail "tools-build"

# One VM suite on one kernel variant: <variant> <case patterns> <time limit>.
# Its results are counted against the cases selected here.
vm_suite() {
  local variant=$1 pats=$2 limit=$3 kdir run vmrc names n line rest detail want=() got
  step "kernel ($variant)"
  kdir=$(BLKCOPY_KERNEL=$variant scripts/build-kernel.sh) || { result FAIL "kernel-build-$variant"; return; }
  step "modules ($variant)"
  # Out-of-tree objects live in the tree: built afresh for each kernel, so
  # that no module of the other variant is ever loaded.
  make -s KDIR="$kdir" clean >/dev/null 2>&1
  if ! make -s KDIR="$kdir" modules > "$CACHE_DIR/modules-$variant.log" 2>&1; then
    cat "$CACHE_DIR/modules-$variant.log"; result FAIL "module-build-$variant"; return
  fi
  if [[ $variant == test ]]; then
    # Frames within the kernel's 2048-byte limit for C (KASAN's redzones
    # make the debug build's frames larger, by design).
    local frames
    if frames=$(scripts/check-stack-frames.sh ./*.ko); then
      result PASS "module-stack-frames" "($(sort -t' ' -k4 -n <<<"$frames" | tail -n 1 | sed -E 's/^([^:]*): largest frame ([0-9]+) bytes.*/largest \2 bytes, \1/'))"
    else
      result FAIL "module-stack-frames"; sed 's/^/    /' <<<"$frames"
    fi
  fi
  step "VM suite ($variant kernel${pats:+, cases $pats})"
  run=$(run_dir "tests-$variant")
  rm -rf "$run"; mkdir -p "$run"
  if [[ $variant == test ]]; then
    # How users install it (make install, DKMS); 015-modprobe loads the
    # modules from the staging root make install filled.
    local inst st name detail
    inst=$(scripts/check-install.sh "$kdir" "$run/modroot")
    while read -r st name detail; do
      [[ $st == PASS || $st == FAIL ]] && result "$st" "$name" "$detail"
    done < <(grep -E '^(PASS|FAIL) ' <<< "$inst")
    grep -E '^    ' <<< "$inst" || true
  fi
  mapfile -t names < <(select_cases "$pats" | xargs -r -n1 basename | sed 's/\.sh$//')
  if ((${#names[@]} == 0)); then result FAIL "vm-cases-$variant" "(no case matches '$pats')"; return; fi
  want=("${names[@]}")
  for n in tests/vm/canaries/*.sh; do want+=("canary-$(basename "$n" .sh)"); done
  [[ $variant == debug ]] && want+=(kmemleak)
  # The storage array VM boots next to the test VM when a network case
  # (named *-net-*) is selected.
  # Only the test kernel has the initiators (kernel/blkcopy-net.config).
  local array=0
  [[ $variant == test ]] && printf '%s\n' "${names[@]}" | grep -q -- '-net-' && array=1
  BLKCOPY_ARRAY=$array scripts/vm.sh "$kdir" "$run" "tests${pats:+:$pats}" "$limit" > "$run/vm.out" 2>&1; vmrc=$?
  # The guest's lines arrive through the serial console with CRLF endings:
  # "PASS kmemleak\r" must match "PASS kmemleak" like any other result.
  sed -i 's/\r$//' "$run/vm.out"
  local sfx=; [[ $variant == test ]] || sfx=" [$variant]"
  for n in "${want[@]}"; do
    line=$(grep -E "^(PASS|FAIL|SKIP) $n( |:|$)" "$run/vm.out" | head -n 1)
    rest=$(awk -v n="$n" '$0 ~ "^(PASS|FAIL|SKIP) " n "( |:|$)" {p = 1; print; next} p && /^    / {print; next} {p = 0}' "$run/vm.out" | tail -n +2)
    case $line in
      PASS*) detail=${line#PASS "$n"}; result PASS "$n$sfx" "${detail# }" ;;
      SKIP*) echo "$line$sfx"; skipped=$((skipped + 1)) ;;
      FAIL*) detail=${line#FAIL "$n"}; result FAIL "$n$sfx" "${detail# }"; [[ -n $rest ]] && echo "$rest" ;;
      *) result FAIL "$n$sfx" "(no result: the guest never reported it)" ;;
    esac
  done
  got=$(grep -cE '^(PASS|FAIL|SKIP) ' "$run/vm.out")
  ((got == ${#want[@]})) || result FAIL "vm-results$sfx" "($got results for ${#want[@]} selected tests)"
  if [[ $vmrc -ne 0 ]]; then
    result FAIL "vm-guest-returned$sfx" "(see $run/console.log)"; tail -n 30 "$run/console.log" | sed 's/^/    /'
  fi
  # The whole kernel log, from boot to power-off: the guest's copy of it
  # (complete by sequence number) and the console to its end (loglevel 5:
  # warnings and worse). Reports the kernel makes by itself are dropped
  # first (tests/vm/known-kernel-reports.awk), and so is the line the
  # kernel-warning canary writes to /dev/kmsg (marked blkcopy-canary).
  local re bad
  re=$(sed -n "s/^KERNEL_BAD_RE='\(.*\)'$/\1/p" tests/vm/lib.sh)
  bad=$(for f in dmesg.txt console.log; do
          [[ -f $run/$f ]] && awk -f tests/vm/known-kernel-reports.awk "$run/$f" | grep -v 'blkcopy-canary: ' | grep -E "$re" | sed "s|^|$f: |"
        done | head -n 5)
  if grep -q '^BLKCOPY-KMSG-INCOMPLETE' "$run/console.log" 2>/dev/null; then
    result FAIL "kernel-log-clean$sfx" "(the kernel log ring lost records: the log is incomplete)"
  elif [[ -n $bad || ! -s $run/dmesg.txt ]]; then
    result FAIL "kernel-log-clean$sfx"; echo "$bad" | sed 's/^/    /'
  else
    result PASS "kernel-log-clean$sfx"
  fi
  # The array's kernel (Debian's) serves the initiator's commands: what it
  # reports (its console, loglevel 4: warnings and worse) fails the run too.
  if ((array)); then
    bad=$(grep -E "$re" "$run/array-console.log" 2>/dev/null | head -n 5)
    if ! grep -q '^ARRAY-READY' "$run/array-console.log" 2>/dev/null; then
      result FAIL "array-came-up$sfx" "(see $run/array-console.log)"; tail -n 10 "$run/array-console.log" 2>/dev/null | sed 's/^/    /'
    elif [[ -n $bad ]]; then
      result FAIL "array-kernel-log-clean$sfx"; echo "$bad" | sed 's/^/    /'
    else
      result PASS "array-kernel-log-clean$sfx"
    fi
  fi
  log "$variant suite: $(cat "$run/accel" 2>/dev/null) guest, $(( $(date +%s) - t0 )) s since the start"
}

if [[ $BLKCOPY_KERNEL == debug ]]; then
  vm_suite debug "$pattern" 7200
else
  vm_suite test "$pattern" 2400
  if [[ -z $pattern && ${BLKCOPY_DEBUG_SMOKE:-1} == 1 ]]; then
    vm_suite debug "$DEBUG_SMOKE_CASES" 2400
    # Leave the tree's modules built for the test kernel.
    make -s KDIR="$(scripts/build-kernel.sh --dir)" clean >/dev/null 2>&1
    make -s KDIR="$(scripts/build-kernel.sh --dir)" modules >/dev/null 2>&1 || result FAIL "module-build-test"
  fi
fi
((skipped == 0)) || log "$skipped skipped (each names what this machine lacks)"
log "wall time $(($(date +%s) - t0)) s"
echo "$pass passed, $failed failed"
((failed == 0))
