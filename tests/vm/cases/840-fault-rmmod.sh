# rmmod with copies in flight: copies run in loops through a blkcopy-linear
# volume on nvme-hp (NVMe Copy; QEMU throttles the namespace's I/O to
# 32 MiB/s here, so that each 32 MiB Copy command spends about 2 s in the
# device) and on lio-a (EXTENDED COPY) while, three times over, every blkcopy
# module is asked to unload. blkcopy (open /dev/blkcopy descriptors) and
# blkcopy_linear (a table uses its target) must be refused; the providers
# may go (their in-flight commands drained; the copies after fall back)
# and are loaded again. Before each provider's rmmod the test waits for a
# device command in flight and marks the moment in the device's trace (a
# QMP command in QEMU's, trace_marker in LIO's): the traces show commands
# outstanding when unloads began. Every copy completes with right bytes,
# none fails or hangs, and everything unloads at the end. The devices show
# that copies were offloaded during the rounds.
load_linear_target
load_nvme_provider
load_scsi_provider
trap 'touch /tmp/rm-n.stop /tmp/rm-l.stop; wait || true; throttle_group hp-throttle; remove_volumes; unload_providers' EXIT
M=2048 MB=$((1 << 20))
hp=$(role nvme-hp)
volume bl-rm "0 $((256 * M)) blkcopy-linear $hp 0"
v=/dev/mapper/bl-rm la=$(role lio-a)
fill_random "$v" 0 $((64 * MB))
fill_random "$la" $((100 * MB)) $((64 * MB))
nsid=$(cat "$(sysblk "$hp")/nsid")
# The namespace's rate while the loops copy (32 MiB/s), and while a mark
# is made (8 MiB/s: below).
LOOP_RATE='"bps-total":33554432' MARK_RATE='"bps-total":8388608'
throttle_group hp-throttle "$LOOP_RATE"
evidence_begin "$v" "$la"
copy_loop /tmp/rm-n.log /tmp/rm-n.stop "$v" "$v" $((32 * MB)) $((128 * MB)) 0 $((32 * MB)); nvme_loop=$COPIER
copy_loop /tmp/rm-l.log /tmp/rm-l.stop "$la" "$la" $((32 * MB)) $((200 * MB)) $((100 * MB)) $((132 * MB)); lio_loop=$COPIER
# Both loops have copied once before the first round.
for ((i = 0; i < 600; i++)); do
  if grep -q '^ok' /tmp/rm-n.log 2>/dev/null && grep -q '^ok' /tmp/rm-l.log 2>/dev/null; then break; fi
  sleep 0.1
done
gone=0 struck_nvme=0 struck_lio=0
for r in $(seq 3); do
  rmmod blkcopy 2>/dev/null && fail "blkcopy unloaded with copies running (round $r)"
  rmmod blkcopy_linear 2>/dev/null && fail "blkcopy_linear unloaded under a live table (round $r)"
  # The NVMe provider, once a mark in QEMU's trace finds a Copy submitted
  # in this round in flight (at most 30 s); rmmod follows the mark at once.
  # Meanwhile the namespace is slowed to 8 MiB/s, so that a copy's
  # commands stay in flight for seconds, longer than a mark takes (at
  # 32 MiB/s a whole run saw the marks miss them in two rounds of three).
  throttle_group hp-throttle "$MARK_RATE"
  rm0=$(trace_mark) n=0
  if nvme_mark_inflight "$rm0" 30; then n=$(nvme_inflight_at "$rm0" "$QMP_MARK" | wc -l); fi
  if rmmod blkcopy_nvme 2>/dev/null; then gone=$((gone + 1)); struck_nvme=$((struck_nvme + n)); fi
  qmp_mark_end
  throttle_group hp-throttle "$LOOP_RATE"
  # The SCSI provider, once an EXTENDED COPY is in flight (at most 10 s).
  n=0
  if marker=$(lio_mark_inflight "blkcopy-fault-rmmod-$r" 10); then n=$(lio_inflight_xcopies "$marker" | wc -l); fi
  if rmmod blkcopy_scsi 2>/dev/null; then gone=$((gone + 1)); struck_lio=$((struck_lio + n)); fi
  sleep 0.3
  load_nvme_provider; load_scsi_provider
  sleep 0.3
done
COPIER=$nvme_loop; copy_loop_end /tmp/rm-n.log /tmp/rm-n.stop
COPIER=$lio_loop; copy_loop_end /tmp/rm-l.log /tmp/rm-l.stop
nvme_copies=$(trace_since "$EV_MARK" | grep -c "^pci_nvme_copy cid [0-9]* nsid $nsid " || true)
note "providers unloaded $gone times; NVMe copies: $(copy_loop_summary /tmp/rm-n.log); LIO copies: $(copy_loop_summary /tmp/rm-l.log)"
note "device commands: $nvme_copies NVMe Copy on nsid $nsid, $(lio_xcopies) EXTENDED COPY; in flight when a provider's unload began: $struck_nvme NVMe Copy, $struck_lio EXTENDED COPY"
((struck_nvme > 0)) || fail "the NVMe provider was never unloaded with a Copy command in flight"
((struck_lio > 0)) || fail "the SCSI provider was never unloaded with an EXTENDED COPY in flight"
if grep -q '^error' /tmp/rm-n.log /tmp/rm-l.log; then fail "copies failed: $(grep -h -m 3 '^error' /tmp/rm-n.log /tmp/rm-l.log)"; fi
((nvme_copies > 0)) || fail "no NVMe copy was offloaded during the rounds (QEMU's trace)"
(( $(lio_xcopies) > 0 )) || fail "no LIO copy was offloaded during the rounds (LIO's trace)"
(($(grep -c '^ok' /tmp/rm-n.log) >= 3 && $(grep -c '^ok' /tmp/rm-l.log) >= 3)) || fail "too few copies ran"
((gone > 0)) || fail "no provider could be unloaded"
assert_pool_drained
remove_volumes
for m in blkcopy_nvme blkcopy_scsi blkcopy_linear blkcopy; do rmmod $m || fail "rmmod $m at the end"; done
