# A fatal signal interrupts a long copy: the process ends promptly (not
# after the copy), the module drains the in-flight I/O and returns its
# buffers, and the next copy is correct. The destination is a stock
# dm-delay volume (100 ms per write) so that the copy takes long enough.
load_blkcopy
s=$(role nvme-a) d=$(role nvme-b)
dmsetup create blkcopy-slow --table "0 $((512 << 11)) delay $d 0 0 $d 0 100" || fail "dm-delay"
trap 'dmsetup remove blkcopy-slow' EXIT
slow=/dev/mapper/blkcopy-slow
read0=$(io_sectors "$s" | cut -d' ' -f1)
blkcopy copy "$s" "$slow" --src-offset 0 --dst-offset 0 --length $((256 << 20)) --no-offload >/dev/null 2>&1 &
pid=$!
# Killed once the copy is under way (it has read 4 MiB of its source), not
# after a fixed time.
for ((i = 0; i < 300; i++)); do (( $(io_sectors "$s" | cut -d' ' -f1) >= read0 + 8192 )) && break; sleep 0.05; done
(( $(io_sectors "$s" | cut -d' ' -f1) >= read0 + 8192 )) || fail "the copy did not start within 15 s"
kill -0 "$pid" 2>/dev/null || fail "the copy ended before it could be interrupted"
start=${EPOCHREALTIME/./}
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
ms=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
note "killed copy ended after $ms ms"
((ms < 3000)) || fail "killed copy took $ms ms to end"
assert_pool_drained
fill_random "$s" $((5 << 20)) $((2 << 20))
blkcopy copy "$s" "$d" --src-offset $((5 << 20)) --dst-offset $((600 << 20)) --length $((2 << 20)) >/dev/null || fail "copy after kill"
assert_same "$s" $((5 << 20)) "$d" $((600 << 20)) $((2 << 20))
dmsetup remove blkcopy-slow && trap - EXIT
rmmod blkcopy || fail "module busy after a killed copy"
