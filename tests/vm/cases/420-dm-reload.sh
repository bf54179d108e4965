# Reload safety: 100 table reloads of a blkcopy-linear volume while copies
# run in a loop through it. The layouts are equivalent (one line, two
# lines, stock linear, all onto the same bytes of nvme-a), and half-way the
# volume moves to lio-a the way pvmove finishes (suspend, copy the bytes,
# load the new table, resume), after which it alternates between
# equivalent layouts there. Every copy must complete with correct bytes
# (offloaded or by the fallback) or fail cleanly; nothing hangs; the kernel
# log stays clean.
load_linear_target
load_nvme_provider
load_scsi_provider
trap 'kill $copier 2>/dev/null; wait 2>/dev/null; remove_volumes; unload_providers' EXIT
M=2048
n=$(role nvme-a) la=$(role lio-a)
layouts_on() {  # device offset-sectors -> prints three equivalent tables
  printf '0 %d blkcopy-linear %s %d\n' $((64 * M)) "$1" "$2"
  printf '0 %d blkcopy-linear %s %d\\n%d %d blkcopy-linear %s %d\n' $((32 * M)) "$1" "$2" $((32 * M)) $((32 * M)) "$1" $(($2 + 32 * M))
  printf '0 %d linear %s %d\n' $((64 * M)) "$1" "$2"
}
mapfile -t nv < <(layouts_on "$n" $((1500 * M)))
mapfile -t lv < <(layouts_on "$la" $((300 * M)))
volume bl-rl "${nv[0]}"; v=/dev/mapper/bl-rl
rm -f /tmp/copier.log
(
  i=0
  while [[ ! -e /tmp/stop-copier ]]; do
    i=$((i + 1))
    off=$(( (i % 4) * 8 << 20 ))
    dd if=/dev/urandom of="$v" bs=1M count=4 seek=$((off >> 20)) oflag=direct status=none conv=notrunc || { echo "fill $i failed" >> /tmp/copier.log; continue; }
    if out=$(blkcopy copy "$v" "$v" --src-offset "$off" --dst-offset $((off + (32 << 20))) --length $((4 << 20)) --json 2>&1); then
      if cmp -s <(read_direct "$v" "$off" $((4 << 20))) <(read_direct "$v" $((off + (32 << 20))) $((4 << 20))); then
        echo "ok $i $(json_field "$out" bytes_offloaded)" >> /tmp/copier.log
      else
        echo "BAD $i: bytes differ ($out)" >> /tmp/copier.log
      fi
    else
      echo "error $i: $out" >> /tmp/copier.log
    fi
  done
) &
copier=$!
rm -f /tmp/stop-copier
for r in $(seq 1 100); do
  if ((r == 50)); then
    # Move to lio-a: nothing is written while suspended.
    dmsetup suspend bl-rl || fail "suspend for the move"
    dd if="$n" of="$la" bs=1M iflag=direct,skip_bytes oflag=direct,seek_bytes skip=$((1500 << 20)) seek=$((300 << 20)) count=64 status=none ||
      fail "moving the bytes"
    printf '%b' "${lv[0]}" | dmsetup load bl-rl || fail "load lio layout"
    dmsetup resume bl-rl || fail "resume after the move"
    continue
  fi
  if ((r < 50)); then t=${nv[r % 3]}; else t=${lv[r % 3]}; fi
  printf '%b' "$t" | dmsetup load bl-rl || fail "reload $r"
  dmsetup resume bl-rl || fail "resume $r"
  sleep 0.05
done
touch /tmp/stop-copier
wait "$copier"
note "copies: $(grep -c '^ok' /tmp/copier.log) ok ($(grep '^ok' /tmp/copier.log | awk '$3 > 0' | wc -l) offloaded), $(grep -c '^error' /tmp/copier.log) failed cleanly"
grep -q '^BAD' /tmp/copier.log && fail "a copy left wrong bytes: $(grep '^BAD' /tmp/copier.log | head -3)"
(( $(grep -c '^ok' /tmp/copier.log) >= 10 )) || fail "too few copies ran: $(tail -5 /tmp/copier.log)"
grep -q '^ok .* [1-9]' /tmp/copier.log || fail "no copy was offloaded during the reloads"
true
