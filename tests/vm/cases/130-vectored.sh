# Vectored BLKCOPY: 64 scattered ranges of different sizes in one call,
# between a 512-byte and a 4096-byte device; every range lands where it
# should and nothing between them is written.
load_blkcopy
s=$(role lio-a) d=$(role nvme-4k)
fill_random "$s" 0 $((64 << 20))
fill_random "$d" 0 $((96 << 20))
gap_before=$(digest "$d" $((1 << 20)) 4096)
args=()
for i in $(seq 0 63); do
  len=$(( (i % 7 + 1) * 4096 * (i % 3 + 1) ))
  args+=(--range "$((i * 1024 * 1024)):$(( (95 - i) * 1024 * 1024 + 4096)):$len")
done
out=$(blkcopy copy "$s" "$d" "${args[@]}" --json) || fail "vectored copy"
total=0
for i in $(seq 0 63); do
  len=$(( (i % 7 + 1) * 4096 * (i % 3 + 1) ))
  total=$((total + len))
  assert_same "$s" $((i * 1024 * 1024)) "$d" $(( (95 - i) * 1024 * 1024 + 4096)) "$len"
done
[[ $(json_field "$out" bytes_copied) == "$total" ]] || fail "copied $(json_field "$out" bytes_copied), want $total"
[[ $(json_field "$out" ranges) == 64 ]] || fail "ranges: $out"
[[ $(digest "$d" $((1 << 20)) 4096) == "$gap_before" ]] || fail "bytes between ranges changed"
