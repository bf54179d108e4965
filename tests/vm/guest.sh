#!/usr/bin/env bash
# Guest-side entry point, run by /init: tests/vm/guest.sh <entry>
#   tests[:PATTERNS] run the cases whose names contain one of the comma-
#                    separated PATTERNS (all without), then the canaries:
#                    one PASS/FAIL/SKIP line each, then
#                    "N passed, N failed, N skipped"
#   demo             the README demo (tests/vm/demo.sh)
#   bench            the benchmark (tests/vm/bench.sh)
#   bench-net        its network part (tests/vm/bench-net.sh)
#   bench-async      its asynchronous part (tests/vm/bench-async.sh)
set -u
cd /host/src || exit 1
. tests/vm/lib.sh
. tests/vm/select.sh

entry=${1:-tests}
echo  # start on a fresh line: firmware leaves escape codes on the console
if ! platform_setup; then
  echo "FAIL platform-setup"
  echo "0 passed, 1 failed"
  exit 1
fi

# One case, in strict mode (tests/vm/lib.sh case_begin), with its verdict:
# PASS only if it ran to its last line with status 0 and no failure
# recorded anywhere (fail() inside $(...) and background loops included),
# and the kernel logged nothing bad while it ran (by /dev/kmsg sequence
# number: records lost from the ring fail it too). SKIP only with the
# reason this machine cannot run it (skip_machine). Prints one line
# "PASS|FAIL|SKIP <name> ..." and, for a failure, its reasons indented.
run_case() {  # <case file> <name>
  local t=$1 name=$2 dir=$RUN/tests rc start secs seq klog why=""
  mkdir -p "$dir"
  rm -f "$dir/$name".{fails,done,skip}
  seq=$(blkcopy-kmsg next)
  start=$(date +%s)
  timeout -k 5 900 bash -c '. tests/vm/lib.sh; case_begin "$2" "$3" "$4"; . "$1"; case_end' _ \
    "$t" "$dir/$name.fails" "$dir/$name.done" "$dir/$name.skip" > "$dir/$name.log" 2>&1
  rc=$?
  secs=$(($(date +%s) - start))
  # A case leaves the machine as it found it: no device-mapper device left
  # (the next case would find its disks held). Leftovers fail the case and
  # are removed.
  local left
  left=$(dmsetup ls 2>/dev/null | grep -v '^No devices found' | awk '{print $1}' | tr '\n' ' ')
  if [[ -n $left ]]; then
    why+="left device-mapper devices behind: $left"$'\n'
    sleep 2; dmsetup remove_all --force > /dev/null 2>&1
  fi
  if ! klog=$(blkcopy-kmsg since "$seq" 2>&1); then
    why+="kernel log incomplete: $klog"$'\n'
  else
    klog=$(echo "$klog" | awk -f tests/vm/known-kernel-reports.awk | grep -E "$KERNEL_BAD_RE" | head -n 5 || true)
    [[ -z $klog ]] || why+="kernel log during the case:"$'\n'"$klog"$'\n'
  fi
  [[ -s $dir/$name.fails ]] && why+="$(head -n 5 "$dir/$name.fails")"$'\n'
  if ((rc == 77)) && [[ -s $dir/$name.skip && -z $why ]]; then
    echo "SKIP $name: this machine: $(head -n 1 "$dir/$name.skip")"
    return 0
  fi
  ((rc == 77)) && why+="exited 77 (skip) without naming what this machine lacks"$'\n'
  ((rc == 124 || rc == 137)) && why+="did not end within 900 s"$'\n'
  ((rc != 0)) && [[ -z $why ]] && why+="exited $rc"$'\n'
  ((rc == 0)) && [[ ! -e $dir/$name.done ]] && why+="ended before its last line (exit 0 before its checks)"$'\n'
  if [[ -z $why ]]; then
    echo "PASS $name (${secs}s)"
  else
    echo "FAIL $name (rc $rc, ${secs}s)"
    printf '%s' "$why" | sed 's/^/    /'
    tail -n 8 "$dir/$name.log" | sed 's/^/    | /'
    return 1
  fi
}

# The cases of a run: tests/vm/cases/*PATTERN*.sh (PATTERN: comma-separated
# parts, tests/vm/select.sh), then the canaries
# (tests/vm/canaries: cases that must fail, each for the reason its
# "# expect-fail:" line names; a canary that passes, or fails for another
# reason, fails the run: the harness did not catch what it exists to
# catch). Ends with "N passed, N failed, N skipped".
run_tests() {
  local pattern=$1 pass=0 failn=0 skipn=0 t name out want
  for t in $(select_cases "$pattern"); do
    name=$(basename "$t" .sh)
    out=$(run_case "$t" "$name")
    echo "$out"
    case $out in PASS*) pass=$((pass + 1)) ;; SKIP*) skipn=$((skipn + 1)) ;; *) failn=$((failn + 1)) ;; esac
  done
  for t in tests/vm/canaries/*.sh; do
    name=canary-$(basename "$t" .sh)
    want=$(sed -n 's/^# expect-fail: //p' "$t")
    out=$(run_case "$t" "$name")
    if [[ $out != FAIL* || -z $want ]]; then
      echo "FAIL $name: the harness did not catch it: ${out%%$'\n'*}"; failn=$((failn + 1))
    elif ! grep -qE -- "$want" <<< "$out"; then
      echo "FAIL $name: failed, but not for '$want':"; echo "$out" | sed 's/^/    /'; failn=$((failn + 1))
    else
      echo "PASS $name (caught: $(grep -m1 -E -- "$want" <<< "$out" | sed 's/^ *//'))"; pass=$((pass + 1))
    fi
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
  bench-net) bash tests/vm/bench-net.sh ;;
  bench-async) bash tests/vm/bench-async.sh ;;
  *) echo "unknown entry $entry"; exit 2 ;;
esac
