# Asynchronous copies stopped while in flight (tests/uapi-check's
# blkcopy-uring-check). The destination is a stock dm-delay volume (500 ms
# per write), zeroed first, and the copies go through the host, so they
# last long enough; each is stopped only once the source's block
# statistics show it reading (it is in flight) and before it has ended.
# 1. BLKCOPY_URING_CANCEL of one 256 MiB copy: its CQE comes within 3 s
#    with ECANCELED and a copied prefix shorter than the copy; the prefix
#    is the source's, every block past it is the source's (I/O that was in
#    flight) or still zero, nothing changes after the CQE, and the bytes
#    around the copy are untouched.
#    IORING_OP_ASYNC_CANCEL does not reach driver commands in 6.12: ENOENT.
# 2. The ring closed with 64 copies in flight, 3. the process killed with
#    64 in flight: the copies drain (the pool within 5 s), every block is
#    the source's or zero, the bytes around are untouched, and the killed
#    process is gone within 3 s. How many blocks the teardown kept from
#    being copied goes to the log.
load_blkcopy
MB=$((1 << 20))
s=$(role nvme-a) d=$(role nvme-b)
# Writes delayed 500 ms: with 64 copies in flight the pool gives most
# of them one buffer (pages_limit), so each of their 4 chunks waits in turn
# and a copy lasts at least 2 s, longer than a stop takes to reach it even
# on the debug kernel (where, at 100 ms, every copy once finished first).
dmsetup create blkcopy-uslow --table "0 $((512 << 11)) delay $d 0 0 $d 0 500" || fail "dm-delay"
trap 'exec 7>&- 2>/dev/null || true; [[ -n ${tool:-} ]] && { kill -9 "$tool"; wait "$tool"; } 2>/dev/null; dmsetup remove blkcopy-uslow' EXIT
slow=/dev/mapper/blkcopy-uslow
LEN=$((256 * MB)) AT=$((4 * MB))
truncate -s $LEN /tmp/zeros
fill_random "$s" 0 $LEN
zero_dst() { dd if=/dev/zero of="$d" bs=1M count=$(((LEN + 2 * AT) / MB)) oflag=direct status=none || fail "zeroing $d"; }
# The bytes around [AT, AT + LEN) of the destination are still zero.
around_untouched() {
  assert_same "$d" 0 /tmp/zeros 0 "$AT"
  assert_same "$d" $((AT + LEN)) /tmp/zeros 0 "$AT"
}
# Starts the helper with its stdin on fd 7, output in /tmp/uring.out, and
# waits until it has submitted and the source has been read from (4 MiB).
start_tool() {
  rm -f /tmp/uring.in /tmp/uring.out; mkfifo /tmp/uring.in
  local r0; r0=$(io_sectors "$s" | cut -d' ' -f1)
  blkcopy-uring-check "$@" < /tmp/uring.in > /tmp/uring.out 2>&1 &
  tool=$!
  exec 7> /tmp/uring.in
  local i
  for ((i = 0; i < 300; i++)); do grep -q '^submitted' /tmp/uring.out && break; sleep 0.05; done
  grep -q '^submitted' /tmp/uring.out || fail "the helper did not submit: $(cat /tmp/uring.out)"
  for ((i = 0; i < 300; i++)); do (( $(io_sectors "$s" | cut -d' ' -f1) >= r0 + 8192 )) && break; sleep 0.05; done
  (( $(io_sectors "$s" | cut -d' ' -f1) >= r0 + 8192 )) || fail "the copies did not start reading within 15 s"
  kill -0 "$tool" 2>/dev/null || fail "the helper ended before the stop: $(cat /tmp/uring.out)"
}

# 1. Cancel.
zero_dst
start_tool cancel "$s" "$slow" 0 "$AT" "$LEN" 2
echo go >&7
for ((i = 0; i < 100; i++)); do kill -0 "$tool" 2>/dev/null || break; sleep 0.1; done
kill -0 "$tool" 2>/dev/null && fail "no CQE within 10 s of the cancel: $(cat /tmp/uring.out)"
wait "$tool" || fail "the helper failed: $(cat /tmp/uring.out)"
tool=
exec 7>&-
# Nothing is written after the CQE: the destination, read right after it,
# is the same 2 s later.
after_cqe=$(digest "$d" "$AT" "$LEN")
out=$(cat /tmp/uring.out)
note "$(tr '\n' ';' <<< "$out")"
grep -qx 'async_cancel ENOENT' <<< "$out" || fail "IORING_OP_ASYNC_CANCEL: want ENOENT: $out"
grep -qx 'cancel 1' <<< "$out" || fail "BLKCOPY_URING_CANCEL did not find the copy: $out"
line=$(grep '^copy ' <<< "$out") || fail "no copy CQE: $out"
read -r _ errno copied _ ms <<< "$line"
copied=${copied#copied=} ms=${ms#ms=}
[[ $errno == ECANCELED ]] || fail "cancelled copy ended with $errno"
((copied < LEN && copied % 4096 == 0)) || fail "copied prefix $copied of $LEN"
((ms < 3000)) || fail "the CQE came $ms ms after the cancel"
v=$(blkcopy-bytes partial "$s" 0 "$d" "$AT" "$LEN" /tmp/zeros "$copied") || fail "after the cancel: $v"
note "cancel: $v"
sleep 2
[[ $(digest "$d" "$AT" "$LEN") == "$after_cqe" ]] || fail "the destination changed after the cancelled copy's CQE"
around_untouched
assert_pool_drained

# 2. The ring closed with 64 copies of 4 MiB in flight. They want more
# buffers than the fallback's pool allows (pages_limit): the pool must
# come back to zero pages in use (a failed reservation once gave back
# pages it never took: pages_in_use wrapped below zero here).
zero_dst
pool_peak_reset
start_tool hold 64 "$s" "$slow" 0 "$AT" $((LEN / 64)) 2
echo close >&7
for ((i = 0; i < 100; i++)); do grep -q '^closed' /tmp/uring.out && break; sleep 0.05; done
grep -q '^closed' /tmp/uring.out || fail "closing the ring did not return: $(cat /tmp/uring.out)"
assert_pool_drained
note "pool after the close: $(cat "$POOL")"
(( $(pool_field pages_peak) >= $(pool_field pages_limit) )) || fail "the copies never filled the pool: $(cat "$POOL")"
exec 7>&-
wait "$tool" || fail "the helper failed: $(cat /tmp/uring.out)"
tool=
v=$(blkcopy-bytes partial "$s" 0 "$d" "$AT" "$LEN" /tmp/zeros 0) || fail "after the ring closed: $v"
note "ring closed: $v"
# How much the teardown stopped is recorded, not required: its cancel
# reaches the copies through io_uring's exit work, which on the debug
# kernel came after 2 s of 500 ms writes (Documentation/blkcopy.rst).
if [[ $v == *" 0 unchanged" ]]; then note "ring closed: every copy had finished before the teardown's cancel reached it"; fi
around_untouched

# 3. The process killed with 64 copies in flight.
zero_dst
start_tool hold 64 "$s" "$slow" 0 "$AT" $((LEN / 64)) 2
start=${EPOCHREALTIME/./}
kill -KILL "$tool"
wait "$tool" 2>/dev/null || true
ms=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
tool=
exec 7>&-
note "killed with copies in flight: exited after $ms ms"
((ms < 3000)) || fail "the killed process took $ms ms to exit"
assert_pool_drained
v=$(blkcopy-bytes partial "$s" 0 "$d" "$AT" "$LEN" /tmp/zeros 0) || fail "after the kill: $v"
note "killed: $v"
if [[ $v == *" 0 unchanged" ]]; then note "killed: every copy had finished before the teardown's cancel reached it"; fi
around_untouched

# A copy afterwards is correct.
blkcopy copy "$s" "$d" --src-offset 0 --dst-offset $((600 * MB)) --length $((2 * MB)) >/dev/null || fail "copy afterwards"
assert_same "$s" 0 "$d" $((600 * MB)) $((2 * MB))
dmsetup remove blkcopy-uslow && trap - EXIT
rm -f /tmp/zeros /tmp/uring.in /tmp/uring.out
rmmod blkcopy || fail "module busy after the stopped copies"
