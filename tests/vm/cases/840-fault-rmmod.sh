# rmmod with copies in flight: copies run in loops through a blkcopy-linear
# volume on nvme-a (NVMe Copy) and on lio-a (EXTENDED COPY) while, 10
# times over, every blkcopy module is asked to unload. blkcopy (open
# /dev/blkcopy descriptors) and blkcopy_linear (a table uses its target)
# must be refused; the providers may go (their in-flight commands drained;
# the copies after fall back) and are loaded again. Every copy completes
# with right bytes, none fails or hangs, and everything unloads at the end.
load_linear_target
load_nvme_provider
load_scsi_provider
trap 'touch /tmp/rm-n.stop /tmp/rm-l.stop; wait 2>/dev/null; remove_volumes; unload_providers' EXIT
M=2048 MB=$((1 << 20))
volume bl-rm "0 $((256 * M)) blkcopy-linear $(role nvme-a) $((1600 * M))"
v=/dev/mapper/bl-rm la=$(role lio-a)
fill_random "$v" 0 $((64 * MB))
fill_random "$la" $((100 * MB)) $((32 * MB))
copy_loop /tmp/rm-n.log /tmp/rm-n.stop "$v" "$v" $((32 * MB)) $((128 * MB)) 0 $((32 * MB)); nvme_loop=$COPIER
copy_loop /tmp/rm-l.log /tmp/rm-l.stop "$la" "$la" $((16 * MB)) $((200 * MB)) $((100 * MB)) $((116 * MB)); lio_loop=$COPIER
sleep 1
gone=0
for r in $(seq 10); do
  rmmod blkcopy 2>/dev/null && fail "blkcopy unloaded with copies running (round $r)"
  rmmod blkcopy_linear 2>/dev/null && fail "blkcopy_linear unloaded under a live table (round $r)"
  for m in blkcopy_nvme blkcopy_scsi; do
    if rmmod $m 2>/dev/null; then gone=$((gone + 1)); fi
  done
  sleep 0.3
  load_nvme_provider; load_scsi_provider
  sleep 0.3
done
COPIER=$nvme_loop; copy_loop_end /tmp/rm-n.log /tmp/rm-n.stop
COPIER=$lio_loop; copy_loop_end /tmp/rm-l.log /tmp/rm-l.stop
note "providers unloaded $gone times; NVMe copies: $(copy_loop_summary /tmp/rm-n.log); LIO copies: $(copy_loop_summary /tmp/rm-l.log)"
grep -h '^error' /tmp/rm-n.log /tmp/rm-l.log | head -n 3 | grep . && fail "copies failed"
(($(grep -c '^ok' /tmp/rm-n.log) >= 3 && $(grep -c '^ok' /tmp/rm-l.log) >= 3)) || fail "too few copies ran"
((gone > 0)) || fail "no provider could be unloaded"
remove_volumes
for m in blkcopy_nvme blkcopy_scsi blkcopy_linear blkcopy; do rmmod $m || fail "rmmod $m at the end"; done
