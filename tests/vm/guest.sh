#!/usr/bin/env bash
# Guest-side entry point, run by /init: tests/vm/guest.sh <entry>
#   tests[:PATTERN]  run tests/vm/cases/*PATTERN*.sh: one PASS/FAIL/SKIP line
#                    each, then "N passed, N failed[, N skipped]"
#   demo             the README demo (tests/vm/demo.sh)
#   bench            the benchmark (tests/vm/bench.sh)
set -u
cd /host/src || exit 1
. tests/vm/lib.sh

entry=${1:-tests}
echo  # start on a fresh line: firmware leaves escape codes on the console
if ! platform_setup; then
  echo "FAIL platform-setup"
  echo "0 passed, 1 failed"
  exit 1
fi

run_tests() {
  local pattern=$1 pass=0 failn=0 skipn=0 t name rc start secs before bad
  mkdir -p "$RUN/tests"
  for t in tests/vm/cases/*"$pattern"*.sh; do
    [[ -e $t ]] || continue
    name=$(basename "$t" .sh)
    before=$(dmesg | wc -l)
    start=$(date +%s)
    timeout -k 5 900 bash -c '. tests/vm/lib.sh; . "$1"' _ "$t" > "$RUN/tests/$name.log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    bad=$(dmesg | tail -n +"$((before + 1))" | awk -f tests/vm/known-kernel-reports.awk | grep -E "$KERNEL_BAD_RE" | head -n 5)
    if [[ -n $bad && $rc -ne 77 ]]; then
      echo "kernel log during test:" >> "$RUN/tests/$name.log"
      echo "$bad" >> "$RUN/tests/$name.log"
      rc=99
    fi
    case $rc in
      0) echo "PASS $name (${secs}s)"; pass=$((pass + 1)) ;;
      77) echo "SKIP $name: $(grep -m1 SKIPPED "$RUN/tests/$name.log")"; skipn=$((skipn + 1)) ;;
      *) echo "FAIL $name (rc $rc, ${secs}s)"; failn=$((failn + 1))
         tail -n 15 "$RUN/tests/$name.log" | sed 's/^/    /' ;;
    esac
  done
  # kmemleak (debug kernel): what the suite left allocated and unreferenced.
  local k=/sys/kernel/debug/kmemleak leaks
  if [[ -w $k ]]; then
    echo scan > $k; sleep 5; echo scan > $k
    leaks=$(cat $k)
    if [[ -n $leaks ]]; then
      echo "FAIL kmemleak"; echo "$leaks" | head -n 30 | sed 's/^/    /'; failn=$((failn + 1))
    else
      echo "PASS kmemleak"; pass=$((pass + 1))
    fi
  fi
  echo "$pass passed, $failn failed, $skipn skipped"
  ((failn == 0))
}

case $entry in
  tests) run_tests "" ;;
  tests:*) run_tests "${entry#tests:}" ;;
  demo) bash tests/vm/demo.sh ;;
  bench) bash tests/vm/bench.sh ;;
  *) echo "unknown entry $entry"; exit 2 ;;
esac
