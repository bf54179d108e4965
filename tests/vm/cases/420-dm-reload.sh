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
trap 'touch /tmp/stop-copier; wait 2>/dev/null; remove_volumes; unload_providers' EXIT
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
# Four different sources, one destination: a copy that did nothing shows.
for k in 0 1 2 3; do fill_random "$v" $((k * 8 << 20)) $((4 << 20)); done
copy_loop /tmp/copier.log /tmp/stop-copier "$v" "$v" $((4 << 20)) $((32 << 20)) 0 $((8 << 20)) $((16 << 20)) $((24 << 20))
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
copy_loop_end /tmp/copier.log /tmp/stop-copier
note "copies: $(copy_loop_summary /tmp/copier.log) (cleanly)"
(( $(grep -c '^ok' /tmp/copier.log) >= 10 )) || fail "too few copies ran: $(tail -5 /tmp/copier.log)"
grep -q '^ok .* [1-9]' /tmp/copier.log || fail "no copy was offloaded during the reloads"
# The table the last reload left (two blkcopy-linear lines on lio-a) carries
# copies: the lines that replaced others at the same places are live.
out=$(blkcopy copy "$v" "$v" --src-offset 0 --dst-offset $((40 << 20)) --length $((8 << 20)) --json) || fail "copy after the reloads"
[[ $(json_field "$out" bytes_offloaded) == $((8 << 20)) ]] || fail "not offloaded after the reloads: $out"
assert_same "$v" 0 "$v" $((40 << 20)) $((8 << 20))
