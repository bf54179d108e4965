# Reload safety: 100 table reloads of a blkcopy-linear volume while copies
# run in a loop through it. The layouts are equivalent (one line, two
# lines, stock linear, all onto the same bytes of nvme-a), and half-way the
# volume moves to lio-a the way pvmove finishes (suspend, copy the bytes,
# load the new table, resume), after which it alternates between
# equivalent layouts there. Every copy must complete with correct bytes
# (offloaded or by the fallback) or fail cleanly; nothing hangs; the kernel
# log stays clean. The devices show that copies were offloaded on both
# layouts (NVMe Copy commands on nvme-a's namespace before the move, LIO
# EXTENDED COPY after it), and the copy after the last reload is offloaded
# to exactly the blocks the final table maps.
load_linear_target
load_nvme_provider
load_scsi_provider
trap 'touch /tmp/stop-copier; wait || true; remove_volumes; unload_providers' EXIT
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
nsid=$(cat "$(sysblk "$n")/nsid")
evidence_begin "$v"
copy_loop /tmp/copier.log /tmp/stop-copier "$v" "$v" $((4 << 20)) $((32 << 20)) 0 $((8 << 20)) $((16 << 20)) $((24 << 20))
for r in $(seq 1 100); do
  if ((r == 50)); then
    # Move to lio-a: nothing is written while suspended.
    nvme_copies=$(trace_since "$EV_MARK" | grep -c "^pci_nvme_copy cid [0-9]* nsid $nsid " || true)
    lio_trace_reset
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
xcopies=$(lio_xcopies)
note "device commands during the reloads: $nvme_copies NVMe Copy on nsid $nsid (before the move), $xcopies EXTENDED COPY (after)"
((nvme_copies > 0)) || fail "no copy was offloaded on NVMe during the reloads (QEMU's trace)"
((xcopies > 0)) || fail "no copy was offloaded on LIO during the reloads (LIO's trace)"
# The table the last reload left (two blkcopy-linear lines on lio-a) carries
# copies: the lines that replaced others at the same places are live.
evidence_begin "$v"
out=$(blkcopy copy "$v" "$v" --src-offset 0 --dst-offset $((40 << 20)) --length $((8 << 20)) --json) || fail "copy after the reloads"
[[ $(json_field "$out" bytes_offloaded) == $((8 << 20)) ]] || fail "not offloaded after the reloads: $out"
expect_offloaded "$v" 0 "$v" $((40 << 20)) $((8 << 20))
assert_same "$v" 0 "$v" $((40 << 20)) $((8 << 20))
