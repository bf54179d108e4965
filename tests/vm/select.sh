# Which VM cases a run selects (sourced by tests/vm/guest.sh in the guest
# and by scripts/test.sh on the host, which counts the results against it).
# shellcheck shell=bash

# select_cases <patterns>: the case files (tests/vm/cases/*.sh, relative to
# the repository) whose names contain one of the comma-separated patterns,
# in file order; all of them for an empty list.
select_cases() {
  local f n p IFS=,
  for f in tests/vm/cases/*.sh; do
    [[ -e $f ]] || continue
    n=$(basename "$f" .sh)
    if [[ -z $1 ]]; then echo "$f"; continue; fi
    for p in $1; do
      if [[ -n $p && $n == *"$p"* ]]; then echo "$f"; break; fi
    done
  done
}
