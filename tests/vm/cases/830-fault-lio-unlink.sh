# LIO LUN unlink mid-XCOPY: copies lio-a -> lio-b run in a loop (offloaded
# as EXTENDED COPY) when the destination's LUN is unlinked from the
# tcm_loop target (configfs): tcm_loop removes the initiator's SCSI device.
# LIO's own trace proves the fault struck a copy in flight: an EXTENDED
# COPY from the initiator started before the marker written just before
# the unlink, and had not completed by then. Every copy returns, completed
# with right bytes (compared right away, or, for a copy that succeeded as
# its disk went away, once the LUN is back) or with an error; nothing
# hangs; no job is left behind. The LUN is linked back (a new SCSI disk,
# discovered afresh): the bytes around the destination are unchanged, a
# retried copy is correct, and the next one is offloaded again to exactly
# the blocks computed, with no data through the initiator.
load_scsi_provider
T=/sys/kernel/config/target
lun=$T/loopback/naa.50014050b1c0c0d1/tpgt_1/lun/lun_1
relink() { [[ -e $lun/lio-b ]] || { mkdir -p "$lun" && ln -s "$T/core/fileio_0/lio-b" "$lun/lio-b"; }; }
trap 'touch /tmp/lu.stop; wait || true; relink; unload_providers' EXIT
[[ -L $lun/lio-b ]] || fail "lio-b is not linked at $lun"
a=$(role lio-a) b=$(role lio-b)
M=$((1 << 20)) L=$((32 << 20)) D=$((256 << 20))
fill_random "$a" 0 $((2 * L))
fill_random "$b" $((D - 8 * M)) $((L + 16 * M))
save_bytes "$b" $((D - 8 * M)) $((8 * M)) /tmp/lu-below
save_bytes "$b" $((D + L)) $((8 * M)) /tmp/lu-above
c0=$(scsi_counter commands)
lio_trace_reset
copy_loop /tmp/lu.log /tmp/lu.stop "$a" "$b" $L $D 0 $L
# A copy offloaded and verified before the fault (LIO completed its
# EXTENDED COPY; the loop compared the bytes).
for i in $(seq 300); do
  if grep -q '^ok' /tmp/lu.log 2>/dev/null && [[ $(lio_xcopies) -gt 0 ]]; then break; fi
  sleep 0.2
done
grep -q '^ok' /tmp/lu.log && (( $(lio_xcopies) > 0 )) || fail "no offloaded copy before the unlink: $(cat /tmp/lu.log 2>/dev/null)"
# Unlink while LIO has an EXTENDED COPY in flight: the marker goes into
# the trace, the trace is read back, and the unlink follows only if a
# command started before the marker had not completed by then.
marker=$(lio_mark_inflight blkcopy-fault-unlink 30) || fail "never caught an EXTENDED COPY in flight"
struck=$(lio_inflight_xcopies "$marker")
rm "$lun/lio-b" && rmdir "$lun" || fail "unlinking the LUN"
after=$(lio_trace | awk -v m="$marker" 'index($0, m) { p = 1 } p && /target_cmd_complete: [^ ].* CDB 83 / { sub(/.*tag /, "tag "); sub(/ \(sense.*/, ""); print }')
note "unlinked with EXTENDED COPY tag(s) $(echo $struck) in flight; their completions after the marker: ${after//$'\n'/; }"
for i in $(seq 100); do [[ -b $b ]] || break; sleep 0.1; done
[[ -b $b ]] && fail "the initiator's disk is still there 10 s after the unlink"
copy_loop_end /tmp/lu.log /tmp/lu.stop pending-ok
note "copies: $(copy_loop_summary /tmp/lu.log); last: $(tail -n 1 /tmp/lu.log)"
assert_pool_drained

relink || fail "linking the LUN back"
rm -f /dev/role/lio-b /dev/role/lio-b.sg
for i in $(seq 100); do discover_roles; [[ -b /dev/role/lio-b && -c /dev/role/lio-b.sg ]] && break; sleep 0.1; done
b=$(role lio-b)
note "back as $b"
sg_turs -n 2 "$(role_sg lio-b)" >/dev/null 2>&1   # the unit attention of the new LUN
assert_file_same /tmp/lu-below "$b" $((D - 8 * M)) $((8 * M))
assert_file_same /tmp/lu-above "$b" $((D + L)) $((8 * M))
copy_loop_verify_pending /tmp/lu.log "$a" "$b" $L $D
blkcopy copy "$a" "$b" --src-offset $L --dst-offset $D --length $L >/dev/null || fail "first copy after the link"
assert_same "$a" $L "$b" $D $L
evidence_begin "$a" "$b"
out=$(blkcopy copy "$a" "$b" --src-offset 0 --dst-offset $D --length $L --json) || fail "retry: $out"
[[ $(json_field "$out" bytes_offloaded) == "$L" ]] || fail "retry not offloaded: $out"
expect_offloaded "$a" 0 "$b" $D $L
assert_same "$a" 0 "$b" $D $L
note "EXTENDED COPY commands: $(($(scsi_counter commands) - c0)), other errors: $(scsi_counter other_errors), illegal requests: $(scsi_counter illegal_request)"
