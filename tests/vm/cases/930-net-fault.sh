# Faults on the storage network, with copies in flight on both fabrics: a
# 32 MiB copy on nvmf-a (NVMe/TCP, a multipath head: one NVMe Copy
# command) and a 16 MiB copy on iscsi-t (iSCSI, an iblock LUN: one
# EXTENDED COPY), each kept in the array until the fault has struck: the
# array's QEMU throttles its NVMe namespace to 4 MiB/s (a Copy command
# takes about 14 s; the limits change only with no command in flight: a
# change under queued requests hung QEMU 10.0's main loop here), and the
# array suspends the dm device under the LUN (dmsetup suspend: LIO's reads
# wait) from before the copy until the second mark.
#   array-stop  the array VM paused (QMP stop) for 6 s, then cont;
#   cut-here    the link cut at the test VM's end (set_link off) for 5 s,
#               less than either transport's recovery timeouts;
#   cut-array   the link cut at the array's end for 40 s, more than both:
#               iSCSI fails the session's commands 20 s after the
#               connection is found dead (replacement_timeout), NVMe/TCP
#               deletes the controller, and so the head, 20 s after it was
#               lost (ctrl_loss_tmo; tests/vm/lib.sh net_setup);
#   port        the array's target ports removed, then added again once
#               both initiators have seen their connection go (at least
#               5 s): the NVMe/TCP port loses the subsystem (configfs
#               unlink: nvmet deletes its controllers and, the port left
#               without subsystems, stops listening), the iSCSI target
#               portal group is disabled (its sessions are closed; LIO
#               keeps the connection until the commands it runs have
#               ended, so the initiator notices by its NOP-Out timeout, and
#               the disable runs in the background on the array until the
#               LUN is released). Seen here: 8 s, just past NVMe/TCP's
#               ctrl_loss_tmo, so its copy may end with an error.
# Proof from the array's side that each fault struck device commands in
# flight: markers written into the array's LIO trace and its QEMU trace (a
# monitor command) just before the fault and after it began (for the stop:
# after cont; the stop itself is the QEMU trace's marker), and NVMe Copy /
# EXTENDED COPY commands that started before the first and had not
# completed at the second.
# Every copy returns within 120 s. The short faults' copies succeed (the
# transports ride them out or recover), with right bytes; the long cut's
# return an error (the test checks the transports did give up: the iSCSI
# disk went transport-offline, the NVMe head went away) or succeed with
# right bytes; the port removal's either (the test checks that both
# initiators saw their connection go: the iSCSI session failed, the NVMe
# controller left the live state). Sources are never changed. After each fault the link and
# the devices come back (iscsid logs in again; NVMe/TCP reconnects, or is
# connected again after the long cut) and a retried copy on each is
# offloaded (the array's records) and correct. The pool drains.
array_present || skip_machine "no storage array VM (the network cases run on the test kernel, whose kernel/blkcopy-net.config has the initiators)"
load_nvme_provider
load_scsi_provider
M=$((1 << 20))
link() {  # <QMP dir> on|off
  local up=true; [[ $2 == on ]] || up=false
  QMP_DIR=$1 qmp_ok "{\"execute\":\"set_link\",\"arguments\":{\"name\":\"n0\",\"up\":$up}}"
}
# The array's target ports (tests/vm/array-init): the iSCSI target portal
# group, the NVMe/TCP port's link to the subsystem.
TPG=/sys/kernel/config/target/iscsi/$ISCSI_TARGET/tpgt_1
NPORT=/sys/kernel/config/nvmet/ports/1/subsystems/$NVMF_NQN
ports_add() {
  array "[ -e $NPORT ] || ln -s /sys/kernel/config/nvmet/subsystems/$NVMF_NQN $NPORT
    [ \$(cat $TPG/enable) = 1 ] || echo 1 > $TPG/enable"
}
# Whatever a failed step left: the array running, both ends linked, its
# ports there.
restore() {
  QMP_DIR=$ARRAY_QMP qmp '{"execute":"cont"}' > /dev/null || true
  array 'DM_DISABLE_UDEV=1 dmsetup resume --noudevsync lun-t' > /dev/null || true
  ports_add > /dev/null || true
  for d in "$RUN/qmp" "$ARRAY_QMP"; do QMP_DIR=$d qmp '{"execute":"set_link","arguments":{"name":"n0","up":true}}' > /dev/null || true; done
}
trap 'restore; wait || true; unload_providers' EXIT
n=$(role nvmf-a) t=$(role iscsi-t)
nname=$(blkname "$n") tname=$(blkname "$t")
NLEN=$((32 * M)) NDST=$((512 * M)) TLEN=$((16 * M)) TDST=$((64 * M))
fill_random "$n" 0 "$NLEN"
fill_random "$t" 0 "$TLEN"
nsum=$(digest "$n" 0 "$NLEN") tsum=$(digest "$t" 0 "$TLEN")

# The devices usable again after a fault (at most 90 s): the iSCSI disk
# running, the NVMe head present with a live path (connected again when
# the controller was deleted).
recovered() {
  local t0=$SECONDS st= c= h i
  for ((i = 0; SECONDS - t0 < 90; i++)); do
    st=$(cat "/sys/class/block/$tname/device/state" 2>/dev/null || echo gone) c=
    # A new head (after connecting again) gets its role.
    [[ -b /dev/role/nvmf-a ]] || discover_roles
    if [[ -b /dev/role/nvmf-a ]]; then
      h=$(basename "$(readlink -f /dev/role/nvmf-a)")
      c=$(ls -d "$(readlink -f "/sys/class/block/$h/device")"/nvme[0-9]* 2>/dev/null | head -n1)
    fi
    if [[ $st == running && -n $c && $(cat "$c/state" 2>/dev/null) == live ]]; then
      n=/dev/$h nname=$h
      note "back after $((SECONDS - t0)) s ($i rounds): iSCSI disk $st, NVMe head $n through $(basename "$c")"
      return 0
    fi
    # No controller of the array's subsystem left: connect again.
    if ! cat /sys/class/nvme/*/subsysnqn 2>/dev/null | grep_q -x "$NVMF_NQN"; then nvmf_connect || true; fi
    sleep 0.2
  done
  fail "the devices did not come back within 90 s (iSCSI disk: $st; NVMe head: ${c:-no path} $(cat "$c/state" 2>/dev/null))"
}
# Waits (at most 20 s) until both copies have a device command in flight
# on the array.
await_inflight() {
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -n $(NVME_TRACE=$ARRAY_TRACE nvme_inflight_at "$A0" "$(NVME_TRACE=$ARRAY_TRACE trace_mark)") &&
       -n $(LIO_ON_ARRAY=1 lio_inflight_xcopies) ]] && return 0
    sleep 0.1
  done
  fail "no NVMe Copy and EXTENDED COPY in flight on the array together within 20 s"
}
# The commands in flight all through the array's marks <1> and <2>.
struck() {  # <fault> <trace offset 1> <trace offset 2>
  local nv lio
  nv=$(NVME_TRACE=$ARRAY_TRACE nvme_inflight_through "$A0" "$2" "$3" | wc -l)
  lio=$(LIO_ON_ARRAY=1 lio_inflight_through "$1-1" "$1-2" | wc -l) || fail "$1: no marker $1-1 in the array's LIO trace"
  note "$1: in flight on the array through the fault: $nv NVMe Copy, $lio EXTENDED COPY"
  ((nv > 0)) || fail "$1 struck no NVMe Copy in flight"
  ((lio > 0)) || { note "the array's LIO trace: $(LIO_ON_ARRAY=1 lio_trace | grep -v '^#' | cut -c1-200)"; fail "$1 struck no EXTENDED COPY in flight"; }
}
# How the two copies ended: rc 0 with right bytes, or (<may fail> = 1) an
# error; the sources unchanged either way. Sets RCS "<nvme rc> <iscsi rc>".
outcome() {  # <fault> <may fail>
  local f dev doff len sum rc out
  RCS=
  for f in n t; do
    if [[ $f == n ]]; then dev=$n doff=$NDST len=$NLEN sum=$nsum; else dev=$t doff=$TDST len=$TLEN sum=$tsum; fi
    rc=$(cat "/tmp/f-$f.rc") out=$(cat "/tmp/f-$f.out")
    if ((rc == 0)); then
      assert_same "$dev" 0 "$dev" "$doff" "$len"
    else
      ((rc != 124)) || fail "$1: the copy on $dev did not return within 120 s"
      (($2)) || fail "$1: the copy on $dev failed: $out"
      note "$1: the copy on $dev: rc $rc, $out"
    fi
    [[ $(digest "$dev" 0 "$len") == "$sum" ]] || fail "$1: the source on $dev changed"
    RCS+="$rc "
  done
}
# After recovery: a 4 MiB copy on each, offloaded and correct.
retry_offloaded() {  # <fault>
  local d so=$((8 * M)) doff=$((96 * M)) len=$((4 * M))
  for d in "$n" "$t"; do
    evidence_begin "$d"
    out=$(blkcopy copy "$d" "$d" --src-offset "$so" --dst-offset "$doff" --length "$len" --json) || fail "$1: retried copy on $d: $out"
    [[ $(json_field "$out" bytes_offloaded) == "$len" ]] || fail "$1: retried copy on $d not offloaded: $out"
    expect_offloaded "$d" "$so" "$d" "$doff" "$len"
    assert_same "$d" "$so" "$d" "$doff" "$len"
  done
}
lun_hold() { array 'DM_DISABLE_UDEV=1 dmsetup suspend --noudevsync lun-t' || fail "array: dmsetup suspend lun-t"; }
lun_release() { array 'DM_DISABLE_UDEV=1 dmsetup resume --noudevsync lun-t' || fail "array: dmsetup resume lun-t"; }
start_copies() {
  A0=$(NVME_TRACE=$ARRAY_TRACE trace_mark)
  array ': > /sys/kernel/tracing/trace' || fail "array: LIO trace reset"
  QMP_DIR=$ARRAY_QMP throttle_group array-nvme-throttle '"bps-total":4194304'
  lun_hold
  copy_bg /tmp/f-n "$n" 0 "$NDST" "$NLEN"
  copy_bg /tmp/f-t "$t" 0 "$TDST" "$TLEN"
  await_inflight
}
end_fault() {  # <fault> <may fail>
  local t0=$SECONDS t1 i
  copy_bg_wait 125 /tmp/f-n /tmp/f-t
  t1=$SECONDS
  # A Copy command the host gave up on may still run in the array.
  for ((i = 0; i < 600; i++)); do
    [[ -z $(NVME_TRACE=$ARRAY_TRACE nvme_inflight_at "$A0" "$(NVME_TRACE=$ARRAY_TRACE trace_mark)") ]] && break
    sleep 0.1
  done
  QMP_DIR=$ARRAY_QMP throttle_group array-nvme-throttle
  recovered
  outcome "$1" "$2"
  note "$1: the copies returned rc $RCS(NVMe, iSCSI) $((t1 - t0)) s after the fault ended; the devices were back $((SECONDS - t0)) s after"
  retry_offloaded "$1"
}

# The array paused.
start_copies
a1=$(array_mark array-stop-1 '{"execute":"stop"}')
sleep 6
QMP_DIR=$ARRAY_QMP qmp_ok '{"execute":"cont"}'
a2=$(array_mark array-stop-2)
lun_release
struck array-stop "$a1" "$a2"
end_fault array-stop 0

# The link cut at this end, briefly.
start_copies
a1=$(array_mark cut-here-1)
link "$RUN/qmp" off
c0=$SECONDS
a2=$(array_mark cut-here-2)
lun_release
while ((SECONDS - c0 < 5)); do sleep 0.2; done
link "$RUN/qmp" on
struck cut-here "$a1" "$a2"
end_fault cut-here 0

# The link cut at the array's end for longer than the recovery timeouts.
start_copies
a1=$(array_mark cut-array-1 '{"execute":"set_link","arguments":{"name":"n0","up":false}}')
a2=$(array_mark cut-array-2)
lun_release
offline=0 gone=0 t0=$SECONDS
while ((SECONDS - t0 < 40)); do
  [[ $(cat "/sys/class/block/$tname/device/state" 2>/dev/null) == transport-offline ]] && offline=1
  [[ -e /sys/class/block/$nname ]] || gone=1
  sleep 0.5
done
link "$ARRAY_QMP" on
struck cut-array "$a1" "$a2"
((offline)) || fail "cut-array: the iSCSI disk never went transport-offline in 40 s"
((gone)) || fail "cut-array: the NVMe head $n did not go away in 40 s"
end_fault cut-array 1

# The array's target ports removed, then added again.
start_copies
a1=$(array_mark port-1)
p0=$SECONDS
array "rm -f /tmp/tpg-off; (rm $NPORT; echo 0 > $TPG/enable; echo \$? > /tmp/tpg-off) > /dev/null 2>&1 &" || fail "array: remove the ports"
# Both initiators see their connection go while the commands are in the
# array: the NVMe controller leaves the live state, the iSCSI session
# fails (its connection closed, or its NOP-Out ping unanswered).
nctrl=$(ls -d "$(readlink -f "$(sysblk "$n")/device")"/nvme[0-9]* | head -n1)
tsess=$(readlink -f "/sys/class/block/$tname/device"); tsess=$(ls -d "${tsess%/target*}"/iscsi_session/session* | head -n1)
nseen= tseen=
for ((i = 0; i < 200 && (${#nseen} == 0 || ${#tseen} == 0); i++)); do
  st=$(cat "$nctrl/state" 2>/dev/null || echo gone)
  [[ -z $nseen && $st != live ]] && nseen=$st
  st=$(cat "$tsess/state" 2>/dev/null || echo gone)
  [[ -z $tseen && $st != LOGGED_IN ]] && tseen=$st
  sleep 0.1
done
a2=$(array_mark port-2)
lun_release
[[ -n $nseen ]] || fail "port: the NVMe controller $(basename "$nctrl") stayed live 20 s after its port lost the subsystem"
[[ -n $tseen ]] || fail "port: the iSCSI session $(basename "$tsess") stayed logged in 20 s after its portal group was disabled"
note "port: seen here $((SECONDS - p0)) s after the removal: NVMe controller $nseen, iSCSI session $tseen"
for ((i = 0; i < 300; i++)); do array 'cat /tmp/tpg-off' > /dev/null 2>&1 && break; sleep 0.1; done
[[ $(array 'cat /tmp/tpg-off' || true) == 0 ]] || fail "port: disabling the portal group did not finish within 30 s of releasing the LUN"
while ((SECONDS - p0 < 5)); do sleep 0.2; done
ports_add || fail "array: add the ports again"
struck port "$a1" "$a2"
end_fault port 1
assert_pool_drained
