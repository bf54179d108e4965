# 16 concurrent copies from 16 processes (distinct regions, two pairs of
# devices), all correct.
load_blkcopy
s=$(role nvme-a) d=$(role nvme-b) s2=$(role lio-a) d2=$(role lio-b)
fill_random "$s" $((256 << 20)) $((64 << 20))
fill_random "$s2" $((128 << 20)) $((32 << 20))
pids=()
for i in $(seq 0 15); do
  if ((i % 2)); then
    blkcopy copy "$s" "$d" --src-offset $((256 * 1048576 + i * 4194304)) --dst-offset $((512 * 1048576 + i * 4194304)) --length $((4 << 20)) >/dev/null &
  else
    blkcopy copy "$s2" "$d2" --src-offset $((128 * 1048576 + i * 2097152)) --dst-offset $((256 * 1048576 + i * 2097152)) --length $((2 << 20)) >/dev/null &
  fi
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent copy failed"; done
for i in $(seq 0 15); do
  if ((i % 2)); then
    assert_same "$s" $((256 * 1048576 + i * 4194304)) "$d" $((512 * 1048576 + i * 4194304)) $((4 << 20))
  else
    assert_same "$s2" $((128 * 1048576 + i * 2097152)) "$d2" $((256 * 1048576 + i * 2097152)) $((2 << 20))
  fi
done
[[ $(pool_field jobs_active) == 0 ]] || fail "jobs still active: $(cat "$POOL")"
[[ $(pool_field pages_in_use) == 0 ]] || fail "buffers not returned: $(cat "$POOL")"
