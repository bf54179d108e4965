#!/usr/bin/env bash
# Stack frames of the built modules (x86-64): every function's frame must
# stay within the kernel's own limit for C frames on 64-bit
# (CONFIG_FRAME_WARN=2048), which rustc does not enforce. Kernel stacks are
# 16 KiB; a copy's submission path runs the stacking layers, the provider
# and the device driver below it on the caller's stack. (blkcopy once had a
# 9.8 KiB frame there: with CONFIG_VMAP_STACK off it silently corrupted
# the memory next to the stack. See Documentation/testing.rst.)
#
# Usage: scripts/check-stack-frames.sh [LIMIT] MODULE.ko...
#   Prints one line per module, the largest frame, and every offender.
set -uo pipefail
limit=2048
[[ ${1:-} =~ ^[0-9]+$ ]] && { limit=$1; shift; }
(($#)) || { echo "usage: $0 [LIMIT] MODULE.ko..." >&2; exit 2; }
bad=0
for ko in "$@"; do
  [[ -f $ko ]] || { echo "$ko: missing"; bad=1; continue; }
  # `sub $N,%rsp` in a function's prologue allocates its frame.
  out=$(objdump -d --no-show-raw-insn "$ko" | perl -ne '
    if (/^[0-9a-f]+ <(.*)>:$/) { $fn = $1 }
    if (/\bsub\s+\$0x([0-9a-f]+),%rsp/) { my $v = hex($1); $max{$fn} = $v if $v > ($max{$fn} // 0) }
    END { printf "%d %s\n", $max{$_}, $_ for sort { $max{$b} <=> $max{$a} } keys %max }') || { echo "$ko: objdump failed"; bad=1; continue; }
  [[ -n $out ]] || { echo "$ko: no frames found (not an x86-64 module?)"; bad=1; continue; }
  top=$(head -n 1 <<<"$out")
  echo "$(basename "$ko"): largest frame ${top%% *} bytes (${top#* })"
  while read -r size fn; do
    ((size > limit)) || break
    echo "  $size bytes > $limit: $fn"; bad=1
  done <<<"$out"
done
exit $bad
