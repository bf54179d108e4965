#!/usr/bin/env bash
# The mutation check (Documentation/testing.rst): builds the modules with
# one deliberate defect at a time (Kbuild's BLKCOPY_MUTATION, a --cfg the
# code under test reads), runs the VM suite on each, and prints which cases
# caught it. A mutation that no case catches fails the check. The modules
# are rebuilt without mutation at the end.
#
# Usage: scripts/mutation-check.sh [MUTATION...]   (default: all of them)
# Environment: BLKCOPY_MUTATION_CASES=PATTERNS runs only those VM cases
#   (comma-separated parts of case names, as for scripts/test.sh).
#   nvme_no_issue            the NVMe provider completes a copy without
#                            issuing the command
#   fallback_skip_chunk      the fallback skips the write of one chunk
#   linear_off_by_one_block  blkcopy-linear remaps copy halves one 4 KiB
#                            block off
#   dst_overrun              a copy writes one 4 KiB block past its
#                            destination
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
ALL=(nvme_no_issue fallback_skip_chunk linear_off_by_one_block dst_overrun)
(($#)) && muts=("$@") || muts=("${ALL[@]}")
scripts/setup-host.sh >/dev/null || die "host setup"
build_guest_tools || die "tools"
kdir=$(scripts/build-kernel.sh) || die "kernel"
missed=0
summary=()
for m in "${muts[@]}"; do
  log "mutation $m: building"
  make -s KDIR="$kdir" clean >/dev/null 2>&1
  make -s KDIR="$kdir" BLKCOPY_MUTATION="$m" modules > "$CACHE_DIR/mutation-$m.log" 2>&1 || { cat "$CACHE_DIR/mutation-$m.log"; die "build with $m"; }
  run=$(run_dir "mutation-$m")
  rm -rf "$run"; mkdir -p "$run"
  log "mutation $m: VM suite"
  pats=${BLKCOPY_MUTATION_CASES:-}
  scripts/vm.sh "$kdir" "$run" "tests${pats:+:$pats}" 1500 > "$run/vm.out" 2>&1
  sed -i 's/\r$//' "$run/vm.out"   # serial console CRLF endings
  caught=$(grep -E '^FAIL ' "$run/vm.out" | awk '{print $2}' | tr '\n' ' ')
  ran=$(grep -cE '^(PASS|FAIL|SKIP) ' "$run/vm.out")
  grep -E '^FAIL ' -A 3 "$run/vm.out" | grep -E '^    [^|]' | head -n 20 > "$run/reasons.txt"
  if [[ -z $caught ]]; then missed=$((missed + 1)); summary+=("$m: NOT CAUGHT"); else summary+=("$m: caught by $caught(of $ran results)"); fi
  log "mutation $m: ${summary[-1]}"
done
make -s KDIR="$kdir" clean >/dev/null 2>&1
make -s KDIR="$kdir" modules >/dev/null 2>&1 || die "rebuilding the modules without mutation"
printf '%s\n' "${summary[@]}"
((missed == 0))
