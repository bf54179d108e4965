# Guest-side helpers for blkcopy's VM tests (sourced by guest.sh and by
# every test case). Devices are named by role, never by guessed /dev path:
#
#   nvme-a, nvme-b   NVMe namespaces 1 and 2 (512-byte LBAs, Copy-capable)
#   nvme-4k          NVMe namespace 3 (4096-byte LBAs, Copy-capable)
#   nvme-small       NVMe namespace 4 (tiny Copy limits: mssrl 8, mcl 64, msrc 3)
#   nvme-4k2         NVMe namespace 5 (4096-byte LBAs, Copy-capable)
#   nvme-mp          NVMe multipath head node with two paths (namespace
#                    shared by QEMU controllers nvme1 and nvme3 of subsystem
#                    subsys0, each on its own hot-plug root port)
#   nvme-hp          namespace of subsystem subsys-hp, whose only controller
#                    is hot-pluggable (QEMU id nvme2 on root port rp-hp;
#                    1 MiB per Copy command)
#   scsi-hd          QEMU scsi-hd on virtio-scsi (no EXTENDED COPY, 3PC=0)
#   lio-a, lio-b     LIO fileio LUNs on one tcm_loop nexus (512-byte blocks)
#   lio-4k           LIO fileio LUN on the same nexus (4096-byte blocks)
#
# /dev/role/<role> links to the block device, /dev/role/<role>.sg to its SCSI
# generic node, /dev/role/nvme-ctrl to the NVMe controller.
# shellcheck shell=bash

SRC=/host/src
RUN=/host/run
NVME_TRACE=$RUN/nvme-trace.log
ROLES="nvme-a nvme-b nvme-4k nvme-4k2 nvme-small nvme-mp nvme-hp scsi-hd lio-a lio-b lio-4k"
# Served by the array VM over the network, when it runs (BLKCOPY_ARRAY=1):
#   iscsi-a, iscsi-b LIO fileio LUNs 0 and 1 of the array's iSCSI target
#                    (512-byte blocks, one target portal group and ACL)
#   iscsi-4k         LUN 2 of the same target (4096-byte blocks)
#   iscsi-t          LUN 3, iblock on the array's virtio disk, which its
#                    QEMU can throttle (array-lun-throttle)
#   nvmf-a           NVMe/TCP namespace (nvmet passthru of the array's QEMU
#                    NVMe namespace with Copy limits), a multipath head
NET_ROLES="iscsi-a iscsi-b iscsi-4k iscsi-t nvmf-a"
NET_SCSI_ROLES="iscsi-a iscsi-b iscsi-4k iscsi-t"
ISCSI_TARGET=iqn.2026-12.org.blkcopy:array ISCSI_INITIATOR=iqn.2026-12.org.blkcopy:initiator
NVMF_NQN=nqn.2026-12.org.blkcopy:array-nvme ARRAY_IP=10.77.0.1
LIO_SERIAL_lio_a=b1c0c0de000a
LIO_SERIAL_lio_b=b1c0c0de000b
LIO_SERIAL_lio_4k=b1c0c0de0004

# --- verdicts ---------------------------------------------------------
#
# Every case runs in strict mode (case_begin, called by guest.sh before the
# case's first line): errexit, nounset and pipefail, inherited by functions,
# subshells and command substitutions, and an ERR trap that turns any
# command that fails outside a condition into a failure naming its file,
# line and command. fail() also writes its message to $CASE_FAILS: a
# failure inside $(...), a pipeline or a background loop fails the case
# even where the shell that ran it would go on, and it stops the case's
# main shell (SIGUSR1; its EXIT trap cleans up). A case passes only if it
# ran to its last line (case_end) with no failure recorded.
fail() {
  echo "FAILED: $*" >&2
  [[ -n ${CASE_FAILS:-} ]] && echo "$*" >> "$CASE_FAILS"
  if [[ -n ${CASE_PID:-} && $BASHPID != "$CASE_PID" ]]; then kill -USR1 "$CASE_PID" 2>/dev/null || true; fi
  exit 1
}
# ERR trap: the command that failed, where, and its status.
on_err() {
  local rc=$1 cmd=$2
  local where=${BASH_SOURCE[1]:-${BASH_SOURCE[0]}}
  fail "${where#"$SRC/"}:${BASH_LINENO[0]:-?}: '$cmd' exited $rc"
}
case_begin() {  # called by guest.sh: <fails file> <done marker> <skip file>
  CASE_FAILS=$1 CASE_DONE=$2 CASE_SKIP=$3 CASE_PID=$BASHPID
  set -eEuo pipefail
  shopt -s inherit_errexit
  trap 'on_err $? "$BASH_COMMAND"' ERR
  trap 'exit 1' USR1
}
case_end() { : > "$CASE_DONE"; }
# A case that cannot run here says what this machine lacks (a case that
# exits 77 without saying so is failed by the runner).
skip_machine() { echo "SKIPPED: this machine: $*" >&2; echo "$*" > "${CASE_SKIP:-/dev/null}"; exit 77; }
note() { echo "# $*" >&2; }
# grep -q for the end of a pipeline: reads all its input, so that under
# pipefail the command before it never dies of SIGPIPE when a match comes
# early.
grep_q() { grep "$@" > /dev/null; }

role() { [[ -e /dev/role/$1 ]] || fail "no device for role $1"; readlink -f "/dev/role/$1"; }
role_sg() { [[ -e /dev/role/$1.sg ]] || fail "no sg node for role $1"; readlink -f "/dev/role/$1.sg"; }
# The kernel's name of a block device node (by its device number: the
# guest has no udev, so /dev/mapper/<name> is a node, not a link to dm-N).
blkname() {
  local mm
  mm=$(stat -L -c '%t:%T' "$1") || fail "$1: no such device node"
  [[ -b $1 ]] || fail "$1 is not a block device"
  basename "$(readlink -f "/sys/dev/block/$((16#${mm%:*})):$((16#${mm#*:}))")"
}
# sysfs directory of a block device node
sysblk() { echo "/sys/class/block/$(blkname "$1")"; }
lbs() { blockdev --getss "$1" || fail "logical block size of $1"; }
size_bytes() { blockdev --getsize64 "$1" || fail "size of $1"; }

# Fill <len> bytes at <off> of <dev> with fresh random data (direct I/O).
fill_random() { blkcopy-bytes fill "$1" "$2" "$3" || fail "fill $1@$2+$3"; }
# Byte evidence: exactly the bytes named, read around the page cache, or the
# case fails (tests/vm-tools blkcopy-bytes: a range past the end, an empty
# range, a short read or an unreadable device is an error, never "equal").
# sha256 of <len> bytes at <off> of <dev>.
digest() { blkcopy-bytes sum "$1" "$2" "$3" || fail "digest of $1@$2+$3"; }
# <len> bytes at <off> of <dev>, to stdout.
read_direct() { blkcopy-bytes read "$1" "$2" "$3" || fail "read $1@$2+$3"; }
# Save <len> bytes at <off> of <dev> to <file>.
save_bytes() { blkcopy-bytes read "$1" "$2" "$3" > "$4" || fail "save $1@$2+$3 to $4"; }
# Compares <len> bytes at <offA> of <devA> with those at <offB> of <devB>:
# sets CMP_OUT to what blkcopy-bytes said, returns 0 (equal), 1 (differ) or
# 2 (could not read exactly those bytes).
cmp_bytes() {
  local rc=0
  CMP_OUT=$(blkcopy-bytes cmp "$1" "$2" "$3" "$4" "$5" 2>&1) || rc=$?
  return "$rc"
}
# Assert <len> bytes at <offA> of <devA> equal those at <offB> of <devB>.
assert_same() {
  local rc=0
  cmp_bytes "$@" || rc=$?
  ((rc == 0)) && return 0
  ((rc == 1)) && fail "bytes differ: $1@$2 vs $3@$4 (+$5): $CMP_OUT"
  fail "cannot compare $1@$2 with $3@$4 (+$5): $CMP_OUT"
}
assert_differ() {
  local rc=0
  cmp_bytes "$@" || rc=$?
  ((rc == 1)) && return 0
  ((rc == 0)) && fail "bytes unexpectedly equal: $1@$2 vs $3@$4 (+$5)"
  fail "cannot compare $1@$2 with $3@$4 (+$5): $CMP_OUT"
}
# Assert <file> (all of it, exactly <len> bytes) equals <len> bytes at <off> of <dev>.
assert_file_same() {  # <file> <dev> <off> <len>
  local size; size=$(stat -c %s "$1") || fail "no file $1"
  ((size == $4)) || fail "$1 has $size bytes, want $4"
  assert_same "$1" 0 "$2" "$3" "$4"
}

# "sectors-read sectors-written" of a block device (its /sys/.../stat).
io_sectors() { awk '{print $3, $7}' "$(sysblk "$1")/stat"; }

# QEMU's NVMe copy trace: mark the current end (a byte offset: only what
# comes after it is read back), then read what came after (without the
# "pid@seconds:" stamps QEMU puts on each line under "-msg timestamp=on",
# which the benchmark uses). A mark that falls inside a line QEMU was
# writing leaves a fragment first, which matches no event name.
trace_mark() { if [[ -f $NVME_TRACE ]]; then stat -c %s "$NVME_TRACE"; else echo 0; fi; }
trace_since() { tail -c +"$(($1 + 1))" "$NVME_TRACE" | sed -E 's/^[0-9]+@[0-9.]+://'; }
# The benchmark's marks: whole lines (scripts/bench-report.py slices by line).
trace_lines() { if [[ -f $NVME_TRACE ]]; then wc -l < "$NVME_TRACE"; else echo 0; fi; }

# Kernel log lines that fail a run.
KERNEL_BAD_RE='WARNING:|BUG:|Oops|Call Trace:|nobody cared|KASAN|UBSAN|possible circular locking|possible recursive locking|blocked for more than|general protection fault|Kernel panic|suspected memory leak|refcount_t:|list_(add|del) corruption'

# A QEMU monitor command (QMP JSON), served on the host by scripts/vm.sh
# through the shared run directory; prints QEMU's replies. The test VM's
# QEMU, or the array's with QMP_DIR=$ARRAY_QMP.
ARRAY_QMP=$RUN/array-qmp
qmp() {
  local n=$$.$RANDOM i d=${QMP_DIR:-$RUN/qmp}
  echo "$1" > "$d/$n.part" && mv "$d/$n.part" "$d/$n.req" || return 1
  for ((i = 0; i < 150; i++)); do
    if [[ -e $d/$n.rep ]]; then cat "$d/$n.rep"; rm -f "$d/$n.rep"; return 0; fi
    sleep 0.2
  done
  echo "no answer from the monitor agent" >&2; return 1
}
# Run a QMP command; fail the test unless QEMU returned success. The
# agent's session holds QEMU's greeting, the reply to qmp_capabilities,
# then this command's reply (events may come between, on lines of their
# own): the second reply line is this command's.
qmp_ok() {
  local out reply
  out=$(qmp "$1") || fail "qmp $1"
  reply=$(grep -E '^\{"(return|error)"' <<< "$out" | sed -n 2p)
  [[ $reply == '{"return"'* ]] || fail "qmp $1: ${reply:-no reply}"
}
# Sets the limits of QEMU throttle group <group> (its -object id: the test
# VM's hp-throttle, mp-throttle; with QMP_DIR=$ARRAY_QMP the array's) to
# <limits>, the members of a ThrottleLimits object ('"bps-total":4194304');
# none lifts them.
throttle_group() {  # <group> [<limits>]
  qmp_ok "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/objects/$1\",\"property\":\"limits\",\"value\":{${2:-}}}}"
}
# The storage array VM (scripts/vm.sh with BLKCOPY_ARRAY=1; tests/vm/array-init):
# a shell command run there, through the shared run directory. Prints its
# output; returns its status.
ARRAY_TRACE=$RUN/array-trace.log EV_ARRAY=0
array_present() { grep -q 'blkcopy\.array=1' /proc/cmdline; }
array() {
  local n=$$.$RANDOM i out rc
  echo "$1" > "$RUN/array/$n.part" && mv "$RUN/array/$n.part" "$RUN/array/$n.req" || return 1
  for ((i = 0; i < 1500; i++)); do
    if [[ -e $RUN/array/$n.rep ]]; then
      out=$(cat "$RUN/array/$n.rep"); rm -f "$RUN/array/$n.rep"
      rc=${out##*rc }; out=${out%rc *}
      printf '%s' "$out"
      return "$rc"
    fi
    sleep 0.1
  done
  echo "no answer from the array" >&2; return 1
}
# A point in the array's timeline in both of its device records: <label> in
# LIO's trace (trace_marker), then a monitor command in its QEMU's trace
# (<QMP command>, default query-status). Prints the QEMU trace offset where
# the monitor began the command (qmp_mark).
array_mark() {  # <label> [QMP command]
  local cmd='{"execute":"query-status"}'
  [[ -z ${2:-} ]] || cmd=$2
  array "echo $1 > /sys/kernel/tracing/trace_marker" > /dev/null || fail "array: trace_marker $1"
  NVME_TRACE=$ARRAY_TRACE QMP_DIR=$ARRAY_QMP qmp_mark "$cmd"
}
# Limits the link inside the array with tc (iproute2's): to <rate> (tc's
# units: 100mbit, 10mbit) each way, a token bucket (tbf) on what the array
# sends and a policer on what it receives; "none" lifts it.
array_shape() {  # <rate>|none
  local out tc=/usr/sbin/tc  # iproute2's (the array's busybox shell prefers its own applet)
  local clear="$tc qdisc del dev eth0 root 2>/dev/null; $tc qdisc del dev eth0 ingress 2>/dev/null"
  if [[ $1 == none ]]; then array "$clear; true" > /dev/null || fail "array: tc: no shaping"; return; fi
  out=$(array "$clear; $tc qdisc add dev eth0 root tbf rate $1 burst 64kb latency 100ms &&
    $tc qdisc add dev eth0 ingress &&
    $tc filter add dev eth0 parent ffff: protocol all prio 1 u32 match u32 0 0 police rate $1 burst 64k drop flowid :1") ||
    fail "array: tc: shaping to $1: $out"
}
# Bytes through the test VM's network interface (received + sent), and the
# array's.
wire_bytes() { echo $(( $(cat /sys/class/net/eth0/statistics/rx_bytes) + $(cat /sys/class/net/eth0/statistics/tx_bytes) )); }
array_wire_bytes() {
  local b; b=$(array 'echo $(( $(cat /sys/class/net/eth0/statistics/rx_bytes) + $(cat /sys/class/net/eth0/statistics/tx_bytes) ))') ||
    fail "array interface counters"
  echo "$b"
}
# One copy with the bytes through both ends of the link around it: prints
# "<bytes offloaded> <wire bytes of the test VM> <wire bytes of the array>
# <milliseconds the copy took>".
wire_copy() {  # <src> <dst> <src off> <dst off> <len> [blkcopy flags]
  local w0 a0 w1 a1 t0 t1 out
  w0=$(wire_bytes) a0=$(array_wire_bytes)
  t0=${EPOCHREALTIME/./}
  out=$(blkcopy copy "$1" "$2" --src-offset "$3" --dst-offset "$4" --length "$5" "${@:6}" --json) || fail "copy $1 -> $2 $5 ${*:6}"
  t1=${EPOCHREALTIME/./}
  w1=$(wire_bytes) a1=$(array_wire_bytes)
  echo "$(json_field "$out" bytes_offloaded) $((w1 - w0)) $((a1 - a0)) $(((t1 - t0) / 1000))"
}
# <len> bytes copied by the devices moved only commands over the link:
# <w> and <aw> bytes through the test VM's and the array's interface are
# each at most 64 KiB per GiB copied, at least 16 KiB (a copy's fixed
# share, and the initiator's NOP-Outs).
expect_wire_commands() {  # <what> <len> <w> <aw>
  local lim=$(( $2 / 16384 > 16384 ? $2 / 16384 : 16384 ))
  (($3 <= lim && $4 <= lim)) || fail "$1 offloaded: $3 / $4 bytes on the wire (at most $lim)"
}
# An offloaded copy over the network, checked: fresh source bytes, the
# devices' records (expect_offloaded), only commands on the wire
# (expect_wire_commands), the bytes. Sets WIRE_W and WIRE_AW (bytes through
# the test VM's and the array's interface) and WIRE_MS (the copy's time).
wire_offloaded() {  # <src> <dst> <src off> <dst off> <len>
  local off
  fill_random "$1" "$3" "$5"
  evidence_begin "$1" "$2"
  read -r off WIRE_W WIRE_AW WIRE_MS <<< "$(wire_copy "$@")"
  ((off == $5)) || fail "$1 -> $2 $5: $off bytes offloaded"
  expect_offloaded "$1" "$3" "$2" "$4" "$5"
  expect_wire_commands "$1 -> $2 $5" "$5" "$WIRE_W" "$WIRE_AW"
  assert_same "$1" "$3" "$2" "$4" "$5"
}
# The same copy forced through the host, checked: the data crosses the
# link twice, through both interfaces. Sets WIRE_W, WIRE_AW, WIRE_MS.
wire_host() {  # <src> <dst> <src off> <dst off> <len>
  local off
  fill_random "$1" "$3" "$5"
  evidence_begin "$1" "$2"
  read -r off WIRE_W WIRE_AW WIRE_MS <<< "$(wire_copy "$@" --no-offload)"
  ((off == 0)) || fail "$1 -> $2 $5 --no-offload: $off bytes offloaded"
  expect_not_offloaded
  ((WIRE_W >= 2 * $5 && WIRE_AW >= 2 * $5)) || fail "a host copy of $5 bytes moved $WIRE_W / $WIRE_AW bytes on the wire"
  assert_same "$1" "$3" "$2" "$4" "$5"
}
# The link shaped to <rate> (array_shape; <bits/s> the same in bits per
# second): a copy of <len> offloaded (wire_offloaded), and <host len> of it
# forced through the host (wire_host), which must also take at least the
# time its bytes need on the shaped link (each way carries them once: the
# shaping holds). Notes both times. The link is unshaped after.
shaped_copies() {  # <rate> <bits/s> <src> <dst> <src off> <dst off> <len> <host len>
  local rate=$1 bps=$2 len=$7 hlen=$8 w aw ms min
  array_shape "$rate"
  wire_offloaded "$3" "$4" "$5" "$6" "$len"
  w=$WIRE_W aw=$WIRE_AW ms=$WIRE_MS
  wire_host "$3" "$4" "$5" "$6" "$hlen"
  min=$((hlen * 8 * 1000 / bps))
  ((WIRE_MS >= min)) || fail "at $rate: $hlen bytes through the host in $WIRE_MS ms, less than the $min ms the shaped link needs"
  array_shape none
  note "at $rate: $((len >> 20)) MiB offloaded in $ms ms ($w / $aw bytes on the wire); $((hlen >> 20)) MiB through the host in $WIRE_MS ms ($WIRE_W / $WIRE_AW bytes)"
}
# Is <disk> served by the array: an iSCSI disk, or an NVMe namespace (or
# head) whose controller's transport is TCP?
on_array() {
  local n dev c
  n=$(blkname "$1"); dev=$(readlink -f "/sys/class/block/$n/device")
  [[ $dev == */session[0-9]* ]] && return 0
  if [[ $dev == */nvme-subsys* ]]; then c=$(ls -d "$dev"/nvme[0-9]* 2>/dev/null | head -n1); else c=$dev; fi
  [[ -r $c/transport && $(cat "$c/transport") == tcp ]]
}
# Wait until QEMU has deleted device <id> (device_del of a PCIe device
# finishes when the guest has powered its slot off).
qmp_wait_deleted() {  # <qdev id>
  local i out
  for ((i = 0; i < 300; i++)); do
    out=$(qmp '{"execute":"qom-list","arguments":{"path":"/machine/peripheral"}}') || fail "qom-list /machine/peripheral"
    [[ $out == *'"return": [{'* ]] || fail "qom-list /machine/peripheral: $out"
    [[ $out == *"\"name\": \"$1\""* ]] || return 0
    sleep 0.1
  done
  fail "QEMU still has device $1 30 s after device_del"
}
# Offset in QEMU's trace of the line where the monitor entered command
# <name> ("query-status", "device_del": its qmp_enter_* event), the first
# after offset <m0>. Returns 1 when there is none yet. (awk reads to the
# end: leaving early would fail tail with SIGPIPE, under pipefail.)
qmp_entered_after() {  # <m0> <name>
  tail -c +"$(($1 + 1))" "$NVME_TRACE" | awk -v base="$1" -v ev="qmp_enter_${2//-/_}" '
    !found && ($1 == ev || index($0, ev " ")) { pos = base + n; found = 1 }
    { n += length($0) + 1 }
    END { if (!found) exit 1; print pos }'
}
# The command's name in QMP JSON ("query-status").
qmp_name() { sed -E 's/.*"execute": *"([^"]+)".*/\1/' <<< "$1"; }
# Run a QMP command (a fault, or "query-status" as a marker) and print the
# offset in QEMU's trace of the line where the monitor began it: what the
# trace holds before it happened before the command.
qmp_mark() {
  local m0 at name
  m0=$(trace_mark)
  qmp_ok "$1"
  name=$(qmp_name "$1")
  at=$(qmp_entered_after "$m0" "$name") || fail "no qmp_enter event in QEMU's trace for $1"
  echo "$at"
}
# qmp_mark for a moment the caller acts on at once: returns as soon as
# QEMU's trace shows the monitor entering the command, not after its reply
# (the agent holds each session about a second). Sets QMP_MARK to the
# offset; the reply is checked in the background, and qmp_mark_end waits
# for it (a failed command fails the case).
QMP_MARK= QMP_MARK_JOB=
qmp_mark_begin() {  # <QMP JSON>
  local m0 i name
  m0=$(trace_mark)
  name=$(qmp_name "$1")
  qmp_ok "$1" > /dev/null & QMP_MARK_JOB=$!
  for ((i = 0; i < 600; i++)); do
    if QMP_MARK=$(qmp_entered_after "$m0" "$name"); then return 0; fi
    sleep 0.05
  done
  fail "no qmp_enter event in QEMU's trace for $1 within 30 s"
}
qmp_mark_end() {
  if [[ -n $QMP_MARK_JOB ]]; then wait "$QMP_MARK_JOB" || fail "QMP command of a mark failed"; fi
  QMP_MARK_JOB=
}
# NVMe Copy commands in flight all through a stretch of QEMU's trace:
# traced after offset <from> and before <m1>, not completed before <m2>.
# Prints their cids.
nvme_inflight_through() {  # <from> <m1> <m2>
  tail -c +"$(($1 + 1))" "$NVME_TRACE" | awk -v m1=$(($2 - $1)) -v m2=$(($3 - $1)) '
    { b += length($0) + 1 }
    b > m2 { next }  # read to the end: stopping early kills tail (SIGPIPE)
    { sub(/^[0-9]+@[0-9.]+:/, "") }
    $1 == "pci_nvme_copy" && b <= m1 { open[$3]++ }
    $1 == "pci_nvme_enqueue_req_completion" && $5 != 0 && open[$3] > 0 { open[$3]-- }
    END { for (c in open) for (i = 0; i < open[c]; i++) print c }'
}
# NVMe Copy commands in flight at an offset of QEMU's trace: traced
# (pci_nvme_copy) after offset <from> and not completed
# (pci_nvme_enqueue_req_completion with its cid on an I/O queue) before
# offset <at>. Prints their cids, one per line.
nvme_inflight_at() {  # <from> <at>
  tail -c +"$(($1 + 1))" "$NVME_TRACE" | awk -v n=$(($2 - $1)) '
    { b += length($0) + 1 }
    b > n { next }
    { sub(/^[0-9]+@[0-9.]+:/, "") }
    $1 == "pci_nvme_copy" { open[$3]++ }
    $1 == "pci_nvme_enqueue_req_completion" && $5 != 0 && open[$3] > 0 { open[$3]-- }
    END { for (c in open) for (i = 0; i < open[c]; i++) print c }'
}
# Marks QEMU's trace (query-status through the monitor, qmp_mark_begin)
# once a Copy command traced after offset <from> is in flight, and keeps
# the mark only if one is still in flight at it: sets QMP_MARK, and the
# caller acts, then calls qmp_mark_end. Tries for <seconds>; returns 1 if
# no mark caught one.
nvme_mark_inflight() {  # <from> <seconds>
  local end=$((SECONDS + $2))
  while ((SECONDS < end)); do
    if [[ -n $(nvme_inflight_at "$1" "$(trace_mark)") ]]; then
      qmp_mark_begin '{"execute":"query-status"}'
      [[ -n $(nvme_inflight_at "$1" "$QMP_MARK") ]] && return 0
      qmp_mark_end
    fi
    sleep 0.05
  done
  return 1
}
# How the Copy commands <cids> in flight at line <at> ended: "cid status"
# of their completions after <at> ("cid never" when none was traced).
nvme_ending_after() {  # <at> <cid>...
  local at=$1; shift
  trace_since "$at" | awk -v cids="$*" '
    BEGIN { n = split(cids, c, " "); for (i = 1; i <= n; i++) want[c[i]]++ }
    $1 == "pci_nvme_enqueue_req_completion" && $5 != 0 && want[$3] > 0 { want[$3]--; print $3, $NF }
    END { for (k in want) for (i = 0; i < want[k]; i++) print k, "never" }'
}

# Copies in a loop, in the background, until <stop file> exists or a device
# node goes away: <len> bytes from <src> at each of the source offsets in
# turn (different bytes each: a copy that did nothing is caught) to <dst> at
# <dst off>. Every copy that reports success is compared right away. One line
# per copy in <log>: "ok <n> <bytes offloaded (blkcopy's report)>", "BAD <n>"
# (it reported success, the bytes differ or cannot be read back from a device
# that is still there), "pending <n> <src off>" (it reported success and its
# device went away before the bytes could be read: the loop stops there, and
# the test compares them once the device is back, copy_loop_verify_pending),
# "error <n> rc=<rc> <message>", "HUNG <n>" (no answer within 120 s). Sets
# COPIER to the loop's pid.
# copy_loop <log> <stop file> <src> <dst> <len> <dst off> <src off>...
copy_loop() {
  local log=$1 stop=$2 src=$3 dst=$4 len=$5 doff=$6
  shift 6
  rm -f "$log" "$stop"
  (
    # The loop records every outcome itself.
    set +e; trap - ERR
    local i=0 so out rc v vr w
    while [[ ! -e $stop && -b $src && -b $dst ]]; do
      so=${*:$((i % $# + 1)):1}; i=$((i + 1))
      out=$(timeout 120 blkcopy copy "$src" "$dst" --src-offset "$so" --dst-offset "$doff" --length "$len" --json 2>&1)
      rc=$?
      if ((rc != 0)); then
        echo "error $i rc=$rc ${out//$'\n'/ }" >> "$log"
        ((rc == 124)) && echo "HUNG $i" >> "$log"
        continue
      fi
      v=$(blkcopy-bytes cmp "$src" "$so" "$dst" "$doff" "$len" 2>&1); vr=$?
      if ((vr == 2)); then
        # Unreadable: a device on its way out, or a wrong copy engine.
        for ((w = 0; w < 100; w++)); do [[ -b $src && -b $dst ]] || break; sleep 0.1; done
      fi
      case $vr in
        0) echo "ok $i $(json_field "$out" bytes_offloaded)" >> "$log" ;;
        1) echo "BAD $i $v" >> "$log" ;;
        *) if [[ -b $src && -b $dst ]]; then echo "BAD $i unreadable after success: $v" >> "$log"
           else echo "pending $i $so" >> "$log"; break; fi ;;
      esac
    done
  ) &
  COPIER=$!
}
# Stop a copy_loop and check what it logged: fail on a hang or wrong bytes,
# and on a copy left unverified unless <pending-ok> (the test compares it
# with copy_loop_verify_pending once the device is back).
copy_loop_end() {  # copy_loop_end <log> <stop file> [pending-ok]
  local i
  touch "$2"
  for ((i = 0; i < 1500; i++)); do kill -0 "$COPIER" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$COPIER" 2>/dev/null && fail "copies still running 150 s after the stop: $(tail -n 3 "$1")"
  wait "$COPIER" || fail "the copy loop ended with status $?"
  [[ -f $1 ]] || fail "the copy loop logged nothing"
  if grep -q '^HUNG' "$1"; then fail "a copy did not return: $(grep -m1 -B1 '^HUNG' "$1" | head -n 1)"; fi
  if grep -q '^BAD' "$1"; then fail "a copy reported success with wrong bytes: $(grep -m1 '^BAD' "$1")"; fi
  if [[ ${3:-} != pending-ok ]] && grep -q '^pending' "$1"; then fail "a successful copy was never verified: $(grep -m1 '^pending' "$1")"; fi
  return 0
}
# Compares the bytes of a copy the loop could not verify (its device went
# away right after it succeeded), now that the device is back. Nothing was
# written to the destination after it: the loop stopped there.
copy_loop_verify_pending() {  # <log> <src> <dst> <len> <dst off>
  local n= so=
  # With no copy pending (the device went away between copies), grep prints
  # nothing and read returns 1 at end of input: nothing to verify.
  read -r _ n so < <(grep -m1 '^pending' "$1" || true) || [[ -n $n ]] || return 0
  assert_same "$2" "$so" "$3" "$5" "$4"
  note "copy $n (reported success as its device went away) verified after the device came back"
}
# One copy in the background (a fault test's copy under a device fault):
# blkcopy's JSON or error goes to <file>.out, its status to <file>.rc
# (124 when it did not return within 120 s).
copy_bg() {  # <file> <dev> <src off> <dst off> <len>
  rm -f "$1.out" "$1.rc"
  (set +e; trap - ERR
   timeout 120 blkcopy copy "$2" "$2" --src-offset "$3" --dst-offset "$4" --length "$5" --json > "$1.out" 2>&1
   echo $? > "$1.rc") &
}
# Waits for the copy_bg copies <file>... to return (at most <seconds>).
copy_bg_wait() {  # <seconds> <file>...
  local i f t=$1 left; shift
  for ((i = 0; i < t * 10; i++)); do
    left=0; for f in "$@"; do [[ -e $f.rc ]] || left=1; done
    ((left)) || return 0
    sleep 0.1
  done
  fail "a copy did not return within $t s"
}
# "N ok, N failed" of a copy_loop log.
copy_loop_summary() {
  echo "$(grep -c '^ok' "$1" || true) ok, $(grep -c '^pending' "$1" || true) verified later, $(grep -c '^error' "$1" || true) failed"
}

# --- device-side evidence -----------------------------------------------
#
# That a copy was offloaded is shown from outside blkcopy: the test computes
# where the bytes live on the disks (phys_map: through the device-mapper
# tables and partitions it set up), and checks what the devices did:
# - NVMe: QEMU's trace has Copy commands on the namespace whose source
#   ranges are exactly the source blocks, each written out to the block the
#   test computed (pairs: source range -> destination), no error event;
# - LIO: the target's own tracepoints (target_sequencer_start /
#   target_cmd_complete) show EXTENDED COPY commands from the initiator,
#   completed GOOD, and the READ(16)/WRITE(16) the copy manager issued cover
#   exactly the source and destination blocks, paired the same way;
# - every disk below the devices did no read or write I/O for the copy
#   (its /sys/block/*/stat).
# evidence_begin <dev>... before the copy, expect_offloaded after it.

# Where <len> bytes at <off> of <dev> live on whole disks: "disk off len"
# lines, following linear and blkcopy-linear lines of device-mapper tables
# and partitions. A part under another target prints "unmapped <target>".
phys_map() {  # <dev> <off> <len>
  local name sys tbl start slen target under uoff s e lo hi
  name=$(blkname "$1"); sys=/sys/class/block/$name
  [[ -e $sys ]] || fail "phys_map: $1 is not a block device"
  if [[ -e $sys/dm/name ]]; then
    tbl=$(dmsetup table "$(cat "$sys/dm/name")") || fail "dmsetup table of $1"
    while read -r start slen target under uoff _; do
      s=$((start * 512)); e=$(((start + slen) * 512))
      lo=$(($2 > s ? $2 : s)); hi=$(($2 + $3 < e ? $2 + $3 : e))
      ((lo < hi)) || continue
      case $target in
        linear|blkcopy-linear)
          phys_map "/dev/$(basename "$(readlink -f "/sys/dev/block/$under")")" $((uoff * 512 + lo - s)) $((hi - lo)) ;;
        *) echo "unmapped-$target $lo $((hi - lo))" ;;
      esac
    done <<< "$tbl"
  elif [[ -e $sys/partition ]]; then
    phys_map "/dev/$(basename "$(dirname "$(readlink -f "$sys")")")" $(($2 + $(cat "$sys/start") * 512)) "$3"
  else
    echo "/dev/$name $2 $3"
  fi
}
# Pieces "sdisk soff ddisk doff len" of a copy whose source and destination
# live where the two phys_map outputs say.
zip_maps() {  # <src map> <dst map>
  local -a S D
  mapfile -t S <<< "$1"; mapfile -t D <<< "$2"
  local i=0 j=0 sd so sl dd dof dl n
  read -r sd so sl <<< "${S[0]}"; read -r dd dof dl <<< "${D[0]}"
  while ((i < ${#S[@]} && j < ${#D[@]})); do
    n=$((sl < dl ? sl : dl))
    ((n > 0)) || fail "zip_maps: empty piece"
    echo "$sd $so $dd $dof $n"
    so=$((so + n)); sl=$((sl - n)); dof=$((dof + n)); dl=$((dl - n))
    if ((sl == 0)); then i=$((i + 1)); if ((i < ${#S[@]})); then read -r sd so sl <<< "${S[i]}"; fi; fi
    if ((dl == 0)); then j=$((j + 1)); if ((j < ${#D[@]})); then read -r dd dof dl <<< "${D[j]}"; fi; fi
  done
  ((i == ${#S[@]} && j == ${#D[@]})) || fail "zip_maps: source and destination maps differ in length"
}
# Every whole disk below <dev>s (device-mapper slaves, partitions' disks).
disks_below() {
  local d name sys s
  for d in "$@"; do
    name=$(blkname "$d"); sys=/sys/class/block/$name
    [[ -e $sys ]] || fail "disks_below: $d is not a block device"
    if [[ -d $sys/slaves ]] && [[ -n $(ls "$sys/slaves") ]]; then
      for s in "$sys"/slaves/*; do disks_below "/dev/$(basename "$s")"; done
    elif [[ -e $sys/partition ]]; then
      echo "/dev/$(basename "$(dirname "$(readlink -f "$sys")")")"
    else
      echo "/dev/$name"
    fi
  done | sort -u
}
# "disk sectors-read sectors-written" of every disk below <dev>s.
io_below() { local d; for d in $(disks_below "$@"); do echo "$d $(io_sectors "$d")"; done; }
# Mark the start of a copy's evidence: QEMU's trace position, the LIO
# trace buffer emptied, the I/O counters of every disk below <dev>s.
evidence_begin() {  # <dev>...
  local d
  EV_MARK=$(trace_mark)
  lio_trace_reset
  EV_DEVS=("$@")
  EV_IO=$(io_below "$@")
  # Disks the array serves: its QEMU trace and its LIO trace too.
  EV_ARRAY=0
  for d in $(disks_below "$@"); do on_array "$d" && EV_ARRAY=1; done
  if ((EV_ARRAY)); then
    EV_AMARK=$(NVME_TRACE=$ARRAY_TRACE trace_mark)
    array ': > /sys/kernel/tracing/trace' || fail "array: LIO trace reset"
  fi
}
# The copy since evidence_begin was done by the devices: each range
# "<src> <src off> <dst> <dst off> <len>" went by device commands from its
# source blocks to its destination blocks (and nothing else was copied by
# a device), and no disk below moved data.
expect_offloaded() {  # <src> <soff> <dst> <doff> <len> [<src> <soff> <dst> <doff> <len>]...
  local now
  expect_device_copied "$@"
  now=$(io_below "${EV_DEVS[@]}")
  [[ $now == "$EV_IO" ]] || fail "data moved through the host during an offloaded copy: was '$EV_IO', now '$now'"
}
# The device-command half of expect_offloaded, for copies that are
# offloaded only in part (the rest moves through the host, on the same
# disks). --rejected N: N NVMe Copy commands were rejected by the device
# (an injected invalid descriptor format) and copied nothing. --blocks N:
# the ranges bound where copies may go, and the devices copied N blocks of
# them in all (each block at most once, each to its place).
expect_device_copied() {  # [--rejected N] [--blocks N] <src> <soff> <dst> <doff> <len> ...
  local pieces="" nv="" lio="" anv="" alio="" sd so dd dof n rejected=0 blocks=
  if [[ ${1:-} == --rejected ]]; then rejected=$2; shift 2; fi
  if [[ ${1:-} == --blocks ]]; then blocks=$2; shift 2; fi
  while (($# >= 5)); do
    pieces+=$(zip_maps "$(phys_map "$1" "$2" "$5")" "$(phys_map "$3" "$4" "$5")")$'\n'
    shift 5
  done
  (($# == 0)) || fail "expect_device_copied: ranges come in fives"
  while read -r sd so dd dof n; do
    [[ -n $sd ]] || continue
    [[ $sd == /dev/* && $dd == /dev/* ]] || fail "a piece is not on a disk: $sd $dd"
    if [[ -e /sys/class/block/${sd#/dev/}/nsid ]]; then
      if on_array "$sd"; then anv+="$sd $so $dd $dof $n"$'\n'; else nv+="$sd $so $dd $dof $n"$'\n'; fi
    elif on_array "$sd"; then alio+="$sd $so $dd $dof $n"$'\n'
    else lio+="$sd $so $dd $dof $n"$'\n'; fi
  done <<< "$pieces"
  if [[ -n $nv ]]; then nvme_expect_copied "$EV_MARK" "$nv" "$rejected" "$blocks"
  else [[ $(trace_copies "$EV_MARK") == 0 ]] || fail "NVMe Copy commands for a copy with no NVMe piece"; fi
  if [[ -n $lio ]]; then lio_expect_copied "$lio"
  else [[ $(lio_xcopies) == 0 ]] || fail "EXTENDED COPY commands for a copy with no SCSI piece"; fi
  ((EV_ARRAY)) || return 0
  # The array's own records: its QEMU's trace, its LIO's tracepoints.
  if [[ -n $anv ]]; then NVME_TRACE=$ARRAY_TRACE nvme_expect_copied "$EV_AMARK" "$anv" "$rejected" "$blocks"
  else [[ $(NVME_TRACE=$ARRAY_TRACE trace_copies "$EV_AMARK") == 0 ]] || fail "array: NVMe Copy commands for a copy with no NVMe/TCP piece"; fi
  if [[ -n $alio ]]; then LIO_ON_ARRAY=1 lio_expect_copied "$alio"
  else [[ $(LIO_ON_ARRAY=1 lio_xcopies) == 0 ]] || fail "array: EXTENDED COPY commands for a copy with no iSCSI piece"; fi
}
# The same, and that none of it was copied by a device (fallback).
expect_not_offloaded() {
  local c; c=$(trace_copies "$EV_MARK")
  ((c == 0)) || fail "a copy said to go through the host issued $c NVMe Copy commands"
  c=$(lio_xcopies)
  ((c == 0)) || fail "a copy said to go through the host issued $c EXTENDED COPY commands"
  ((EV_ARRAY)) || return 0
  c=$(NVME_TRACE=$ARRAY_TRACE trace_copies "$EV_AMARK")
  ((c == 0)) || fail "a copy said to go through the host issued $c NVMe Copy commands on the array"
  c=$(LIO_ON_ARRAY=1 lio_xcopies)
  ((c == 0)) || fail "a copy said to go through the host issued $c EXTENDED COPY commands on the array"
}
# Fills <len> bytes at <src off> of <src> with new random bytes, copies
# them to <dst off> of <dst>, and checks that blkcopy reports <want>
# bytes offloaded, that the devices show it (all: expect_offloaded; none:
# expect_not_offloaded) and that the bytes are equal.
copy_checked() {  # <src> <dst> <src off> <dst off> <len> <want offloaded>
  local out
  fill_random "$1" "$3" "$5"
  evidence_begin "$1" "$2"
  out=$(blkcopy copy "$1" "$2" --src-offset "$3" --dst-offset "$4" --length "$5" --json) || fail "copy $1 -> $2"
  [[ $(json_field "$out" bytes_offloaded) == "$6" ]] || fail "$1 -> $2: offloaded $(json_field "$out" bytes_offloaded), want $6"
  if (($6 == $5)); then expect_offloaded "$1" "$3" "$2" "$4" "$5"; elif (($6 == 0)); then expect_not_offloaded; fi
  assert_same "$1" "$3" "$2" "$4" "$5"
}

# Expected pieces "nsid slba dst-nsid dlba nlb" of NVMe pieces.
nvme_blocks() {
  local sd so dd dof n lb ns dns
  while read -r sd so dd dof n; do
    [[ -n $sd ]] || continue
    ns=$(cat "/sys/class/block/${sd#/dev/}/nsid") || fail "$sd is not an NVMe namespace"
    dns=$(cat "/sys/class/block/${dd#/dev/}/nsid" 2>/dev/null) || fail "NVMe source $sd, destination $dd is not a namespace"
    [[ $(readlink -f "/sys/class/block/${sd#/dev/}/device") == "$(readlink -f "/sys/class/block/${dd#/dev/}/device")" ]] ||
      fail "$sd and $dd are on different controllers"
    lb=$(lbs "$sd")
    ((so % lb == 0 && dof % lb == 0 && n % lb == 0)) || fail "piece $sd@$so -> $dd@$dof +$n is not block-aligned"
    echo "$ns $((so / lb)) $dns $((dof / lb)) $((n / lb))"
  done <<< "$1"
}
# QEMU's trace since <mark> holds exactly these copies (see above). Prints
# "N commands, N source ranges, N blocks" as a note.
nvme_expect_copied() {  # <mark> <pieces> [rejected commands] [blocks in all]
  local exp out
  exp=$(nvme_blocks "$2")
  out=$(trace_since "$1" | awk -v pieces="$exp" -v rejected="${3:-0}" -v blocks_in_all="${4:-}" \
        -f "$SRC/tests/vm/copy-pairs.awk" -f "$SRC/tests/vm/nvme-trace-check.awk") || fail "NVMe trace: $out"
  note "NVMe trace: $out"
}

# LIO's tracepoints (platform_setup enables them).
TRACEFS=/sys/kernel/tracing
lio_trace_reset() { [[ -w $TRACEFS/trace ]] && : > "$TRACEFS/trace" || true; }
lio_trace() {  # the local LIO's; the array's with LIO_ON_ARRAY=1
  local t
  if [[ ${LIO_ON_ARRAY:-0} == 1 ]]; then t=$(array 'cat /sys/kernel/tracing/trace') || fail "array: no trace buffer"
  else t=$(cat "$TRACEFS/trace") || fail "no trace buffer"; fi
  # Complete or nothing: entries-in-buffer must equal entries-written.
  awk '/^# entries-in-buffer\/entries-written:/ { split($3, n, "/"); ok = (n[1] == n[2]) } END { exit !ok }' <<< "$t" ||
    fail "the trace buffer lost events: $(grep entries-in-buffer <<< "$t")"
  echo "$t"
}
# EXTENDED COPY commands the initiator sent since the trace was reset.
lio_xcopies() { lio_trace | grep -c 'target_sequencer_start: [^ ].* CDB 83 ' || true; }
# EXTENDED COPY commands from the initiator started and not completed (by
# their tags) in the trace up to its line holding <marker text>, or up to
# its end without one. Prints their tags.
lio_inflight_xcopies() {  # [marker text]
  lio_trace | awk -v marker="${1:-}" '
    marker != "" && index($0, marker) { done = 1 }
    done { next }
    /target_sequencer_start: [^ ].* CDB 83 / { match($0, /tag 0x[0-9a-f]+/); open[substr($0, RSTART + 4, RLENGTH - 4)]++ }
    /target_cmd_complete: [^ ].* CDB 83 / { match($0, /tag 0x[0-9a-f]+/); t = substr($0, RSTART + 4, RLENGTH - 4); if (open[t] > 0) open[t]-- }
    END { for (t in open) if (open[t] > 0) print t }'
}
# EXTENDED COPY commands started before the trace's marker <m1> and not
# completed before its marker <m2> (markers written by lio_trace_marker or
# array_mark): in flight all through. Prints their tags.
lio_inflight_through() {  # <m1> <m2>
  lio_trace | awk -v m1="$1" -v m2="$2" '
    done { next }  # read to the end: stopping early kills the writer (SIGPIPE)
    /tracing_mark_write:/ && $NF == m2 && seen { done = 1; next }
    /tracing_mark_write:/ && $NF == m1 { seen = 1; next }
    /target_sequencer_start: [^ ].* CDB 83 / && !seen { match($0, /tag 0x[0-9a-f]+/); open[substr($0, RSTART + 4, RLENGTH - 4)]++ }
    /target_cmd_complete: [^ ].* CDB 83 / { match($0, /tag 0x[0-9a-f]+/); t = substr($0, RSTART + 4, RLENGTH - 4); if (open[t] > 0) open[t]-- }
    END { if (!seen) exit 1; for (t in open) if (open[t] > 0) print t }'
}
# Writes <text> into the trace (trace_marker): a point in LIO's timeline.
lio_trace_marker() { echo "$1" > "$TRACEFS/trace_marker" || fail "trace_marker"; }
# Waits (at most <seconds>) for an EXTENDED COPY in flight and writes a
# marker into the trace while one is (read back after writing it): prints
# the marker's text, or returns 1 when none was caught.
lio_mark_inflight() {  # <marker prefix> <seconds>
  local i m
  for ((i = 0; i < $2 * 20; i++)); do
    if [[ -n $(lio_inflight_xcopies) ]]; then
      m=$1-$i
      lio_trace_marker "$m"
      if [[ -n $(lio_inflight_xcopies "$m") ]]; then echo "$m"; return 0; fi
    fi
    sleep 0.05
  done
  return 1
}
# Expected pieces "lun slba dst-lun dlba nblocks" of SCSI pieces.
scsi_blocks() {
  local sd so dd dof n lb
  while read -r sd so dd dof n; do
    [[ -n $sd ]] || continue
    lb=$(lbs "$sd")
    [[ $(lbs "$dd") == "$lb" ]] || fail "$sd and $dd have different block sizes"
    ((so % lb == 0 && dof % lb == 0 && n % lb == 0)) || fail "piece $sd@$so -> $dd@$dof +$n is not block-aligned"
    echo "$(scsi_lun "$sd") $((so / lb)) $(scsi_lun "$dd") $((dof / lb)) $((n / lb))"
  done <<< "$1"
}
# LUN of a SCSI disk (the last part of its H:C:T:L address).
scsi_lun() { basename "$(readlink -f "/sys/class/block/${1#/dev/}/device")" | awk -F: '{print $4}'; }
lio_expect_copied() {  # <pieces>
  local exp out
  exp=$(scsi_blocks "$1")
  out=$(lio_trace | awk -v pieces="$exp" -f "$SRC/tests/vm/copy-pairs.awk" -f "$SRC/tests/vm/lio-trace-check.awk") || fail "LIO trace: $out"
  note "LIO trace: $out"
}

# --- platform setup (run once by guest.sh) ----------------------------

lio_setup() {
  local T=/sys/kernel/config/target
  modprobe target_core_mod && modprobe target_core_file && modprobe tcm_loop || return 1
  # LIO's own record of the copy commands it runs (device-side evidence):
  # EXTENDED COPY, and the READ(16)/WRITE(16) of its copy manager (the
  # initiator's own I/O on these small LUNs is READ(10)/WRITE(10), left out).
  local e f='opcode == 0x83 || opcode == 0x88 || opcode == 0x8a'
  echo 4096 > "$TRACEFS/buffer_size_kb" || return 1
  for e in target_sequencer_start target_cmd_complete; do
    echo "$f" > "$TRACEFS/events/target/$e/filter" && echo 1 > "$TRACEFS/events/target/$e/enable" || return 1
  done
  mkdir -p /lio && mount -t tmpfs -o size=2G tmpfs /lio || return 1
  local W=$T/loopback/naa.50014050b1c0c0d1/tpgt_1 i=0 name size bs serial d var
  mkdir -p "$W" || return 1
  # The I_T nexus must exist before LUNs are linked (the link adds the disk).
  echo naa.50014050b1c0c0d2 > "$W/nexus" || return 1
  for spec in lio-a:512M:512 lio-b:512M:512 lio-4k:256M:4096; do
    IFS=: read -r name size bs <<< "$spec"
    var=LIO_SERIAL_${name//-/_}; serial=${!var}
    d=$T/core/fileio_0/${name}
    truncate -s "$size" "/lio/$name.img"
    mkdir -p "$d"
    echo "fd_dev_name=/lio/$name.img,fd_dev_size=$(stat -c %s "/lio/$name.img")" > "$d/control" || return 1
    # The serial feeds the NAA designator EXTENDED COPY names LUs by; LIO
    # refuses it once the device is exported, so it goes first.
    echo "$serial" > "$d/wwn/vpd_unit_serial" || return 1
    echo 1 > "$d/enable" || return 1
    echo "$bs" > "$d/attrib/block_size" || return 1
    mkdir -p "$W/lun/lun_$i" && ln -s "$d" "$W/lun/lun_$i/$name" || return 1
    i=$((i + 1))
  done
}

# Serial number from a SCSI disk's VPD page 0x80 (unit serial number).
scsi_serial() { [[ -r $1/device/vpd_pg80 ]] && tail -c +5 "$1/device/vpd_pg80" | tr -d '\0 '; }

discover_roles() {
  mkdir -p /dev/role
  local b n serial nsid sg r
  # NVMe: namespace disks of a controller, or multipath heads
  # (CONFIG_NVME_MULTIPATH=y: QEMU 10 reports every controller in a
  # subsystem, CMIC, so every namespace is a head). A head's device is its
  # subsystem, whose serial is its first controller's; the paths below a
  # head (nvmeXcYnZ) are hidden and skipped.
  local dev ctrl
  for b in /sys/block/nvme*n*; do
    [[ -e $b ]] || continue
    n=$(basename "$b")
    [[ $n =~ ^nvme[0-9]+c[0-9]+n[0-9]+$ ]] && continue
    dev=$(readlink -f "$b/device")
    if [[ $dev == */nvme-subsys* ]]; then
      ctrl=$(ls -d "$dev"/nvme[0-9]* 2>/dev/null | head -n1)
      serial=$(tr -d ' ' < "$dev/serial")
    else
      ctrl=$dev serial=$(tr -d ' ' < "$dev/serial")
    fi
    nsid=$(cat "$b/nsid")
    case $serial in
      blkcopy-nvme1) r=nvme-mp ;;
      blkcopy-nvme2) r=nvme-hp ;;
      blkcopy-array-nvme) r=nvmf-a ;;
      blkcopy-nvme0)
        case $nsid in 1) r=nvme-a ;; 2) r=nvme-b ;; 3) r=nvme-4k ;; 4) r=nvme-small ;; 5) r=nvme-4k2 ;; *) continue ;; esac
        [[ -n $ctrl ]] && ln -sf "/dev/$(basename "$ctrl")" /dev/role/nvme-ctrl ;;
      *) continue ;;
    esac
    ln -sf "/dev/$n" "/dev/role/$r"
  done
  for b in /sys/block/sd*; do
    [[ -e $b ]] || continue
    n=$(basename "$b"); serial=$(scsi_serial "$b"); r=
    case $serial in
      blkcopy-scsi-hd) r=scsi-hd ;;
      "$LIO_SERIAL_lio_a") r=lio-a ;;
      "$LIO_SERIAL_lio_b") r=lio-b ;;
      "$LIO_SERIAL_lio_4k") r=lio-4k ;;
      b1c0c0de0a01) r=iscsi-a ;;
      b1c0c0de0a02) r=iscsi-b ;;
      b1c0c0de0a04) r=iscsi-4k ;;
      b1c0c0de0a08) r=iscsi-t ;;
    esac
    [[ -n $r ]] || continue
    ln -sf "/dev/$n" "/dev/role/$r"
    sg=$(ls "$b/device/scsi_generic" 2>/dev/null | head -n1)
    [[ -n $sg ]] && ln -sf "/dev/$sg" "/dev/role/$r.sg"
  done
}

roles_complete() {
  local r
  for r in $ROLES; do [[ -b /dev/role/$r ]] || return 1; done
  for r in scsi-hd lio-a lio-b lio-4k; do [[ -c /dev/role/$r.sg ]] || return 1; done
  if array_present; then
    for r in $NET_ROLES; do [[ -b /dev/role/$r ]] || return 1; done
    for r in $NET_SCSI_ROLES; do [[ -c /dev/role/$r.sg ]] || return 1; done
  fi
  return 0
}

# The test VM's side of the storage network: its address on the link, the
# open-iscsi initiator (iscsid, as users run it: session recovery is under
# test) logged in to the array's target, and the NVMe/TCP connection.
# Recovery timeouts, short so that a fault test can outlast them:
#   iSCSI: NOP-Out every 5 s, a connection failed after 5 s without answer;
#     its commands fail 20 s after that (replacement_timeout), and iscsid
#     keeps logging in again;
#   NVMe/TCP: keep-alive 5 s; reconnects 2 s after each failed attempt
#     (an attempt on a dead link takes about 3 s), at most 4 times
#     (ctrl_loss_tmo 8 s / 2 s), then the controller is deleted, and with
#     its only path the head (nvmf_connect connects again): about 26 s
#     after the link went.
nvmf_connect() {
  nvme connect -t tcp -a "$ARRAY_IP" -s 4420 -n "$NVMF_NQN" --keep-alive-tmo=5 --reconnect-delay=2 --ctrl-loss-tmo=8 > /dev/null
}
net_setup() {
  local i
  ip link set lo up && ip link set eth0 up && ip addr add 10.77.0.2/24 dev eth0 || return 1
  for ((i = 0; i < 1800; i++)); do
    [[ -e $RUN/array/ready ]] && break
    [[ -e $RUN/array/failed ]] && { echo "array: $(cat "$RUN/array/failed")" >&2; return 1; }
    sleep 0.1
  done
  [[ -e $RUN/array/ready ]] || { echo "the array VM did not come up" >&2; return 1; }
  mkdir -p /etc/iscsi /run/lock/iscsi /var/lock /var/lib/iscsi /etc/nvme
  # iscsid serves only root, whose name it looks up (getpwuid).
  [[ -e /etc/passwd ]] || { echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd; echo 'root:x:0:' > /etc/group; }
  echo "InitiatorName=$ISCSI_INITIATOR" > /etc/iscsi/initiatorname.iscsi
  cat > /etc/iscsi/iscsid.conf <<'CONF'
node.startup = manual
node.session.timeo.replacement_timeout = 20
node.conn[0].timeo.noop_out_interval = 5
node.conn[0].timeo.noop_out_timeout = 5
node.session.initial_login_retry_max = 4
CONF
  iscsid || { echo "iscsid did not start" >&2; return 1; }
  iscsiadm -m discovery -t sendtargets -p "$ARRAY_IP:3260" > /dev/null &&
    iscsiadm -m node -T "$ISCSI_TARGET" -p "$ARRAY_IP:3260" --login > /dev/null ||
    { echo "iSCSI login to $ISCSI_TARGET failed" >&2; return 1; }
  echo "nqn.2014-08.org.nvmexpress:uuid:b1c0c0de-0000-4000-8000-000000000002" > /etc/nvme/hostnqn
  echo "b1c0c0de-0000-4000-8000-000000000002" > /etc/nvme/hostid
  nvmf_connect ||
    { echo "NVMe/TCP connect to $NVMF_NQN failed" >&2; return 1; }
}

platform_setup() {
  lio_setup || { echo "LIO setup failed" >&2; return 1; }
  if array_present; then net_setup || { echo "storage network setup failed" >&2; return 1; }; fi
  local i r
  for ((i = 0; i < 100; i++)); do
    discover_roles
    if roles_complete; then
      # New LUNs carry a pending unit attention (REPORTED LUNS DATA HAS
      # CHANGED); consume it so that the first command of a test does not
      # fail with it.
      for r in lio-a lio-b lio-4k; do sg_turs -n 2 "/dev/role/$r.sg" >/dev/null 2>&1; done
      if array_present; then for r in $NET_SCSI_ROLES; do sg_turs -n 2 "/dev/role/$r.sg" >/dev/null 2>&1; done; fi
      return 0
    fi
    sleep 0.2
  done
  echo "devices missing (present: $(ls /dev/role | tr '\n' ' '))" >&2
  return 1
}

# The module under test, built into the shared source tree.
BLKCOPY_KO=$SRC/blkcopy.ko
BLKCOPY_NVME_KO=$SRC/blkcopy_nvme.ko
load_blkcopy() {
  grep -q '^blkcopy ' /proc/modules || insmod "$BLKCOPY_KO" || fail "insmod blkcopy"
}
load_nvme_provider() {
  load_blkcopy
  grep -q '^blkcopy_nvme ' /proc/modules || insmod "$BLKCOPY_NVME_KO" || fail "insmod blkcopy_nvme"
}
BLKCOPY_SCSI_KO=$SRC/blkcopy_scsi.ko
load_scsi_provider() {
  load_blkcopy
  grep -q '^blkcopy_scsi ' /proc/modules || insmod "$BLKCOPY_SCSI_KO" || fail "insmod blkcopy_scsi"
}
BLKCOPY_LINEAR_KO=$SRC/blkcopy_linear.ko
load_linear_target() {
  load_blkcopy
  grep -q '^blkcopy_linear ' /proc/modules || insmod "$BLKCOPY_LINEAR_KO" || fail "insmod blkcopy_linear"
}
# Unloads whichever providers and stacked target are loaded (each must go).
unload_providers() {
  local m
  for m in blkcopy_nvme blkcopy_scsi blkcopy_linear; do
    if grep -q "^$m " /proc/modules; then rmmod "$m" || fail "rmmod $m"; fi
  done
}
# A blkcopy-clone device's status (samples/blkcopy_clone.rs): field <n>
# is 1 region size, 2 hydrated/total, 3 hydrating, 4 bytes offloaded,
# 5 bytes emulated, 6 errors, 7 mode.
cstat() { dmsetup status "$1" | awk -v f=$(($2 + 3)) '{print $f}'; }
hydrated() { cstat "$1" 2 | cut -d/ -f1; }
# Waits (at most <seconds>) until every region of clone <name> is
# hydrated and none is being hydrated.
wait_hydrated() {  # name seconds
  local i total
  total=$(cstat "$1" 2 | cut -d/ -f2)
  for ((i = 0; i < $2 * 10; i++)); do
    [[ $(hydrated "$1") == "$total" && $(cstat "$1" 3) == 0 ]] && return 0
    sleep 0.1
  done
  fail "$1 not hydrated after $2 s: $(dmsetup status "$1")"
}
# dm devices a test created (removed by remove_volumes, in reverse order).
VOLUMES=()
volume() {  # volume <name> <table>: create /dev/mapper/<name> (not in a subshell)
  dmsetup create "$1" --table "$2" || fail "dmsetup create $1: $2"
  VOLUMES+=("$1")
}
remove_volumes() {
  local i v
  for ((i = ${#VOLUMES[@]} - 1; i >= 0; i--)); do
    v=${VOLUMES[i]}
    if dmsetup info "$v" > /dev/null 2>&1; then dmsetup remove "$v" || fail "dmsetup remove $v"; fi
  done
  VOLUMES=()
}
# A counter of the SCSI provider (debugfs blkcopy_scsi/luns, last line).
scsi_counter() { tail -n1 /sys/kernel/debug/blkcopy_scsi/luns | grep -o "$1=[0-9]*" | cut -d= -f2; }
# Copy commands QEMU traced since a mark.
trace_copies() { trace_since "$1" | grep -c '^pci_nvme_copy cid' || true; }
# A numeric field of a one-line JSON object.
json_field() {
  local v
  v=$(grep -o "\"$2\":[0-9]*" <<< "$1" | cut -d: -f2) || fail "no field $2 in: $1"
  echo "$v"
}
# A field of a device's statistics (BLKCOPY_STATS through blkcopy stats: the
# stable interface; 0 when no copy touched the device).
stat_field() {
  local out
  out=$(blkcopy stats "$1" --json) || fail "blkcopy stats $1"
  json_field "$out" "$2"
}
POOL=/sys/kernel/debug/blkcopy/pool
pool_field() { grep -o "$1=[0-9]*" "$POOL" | cut -d= -f2; }
# Restarts the pool's pages_peak from what is in use now.
pool_peak_reset() { echo 0 > "$POOL" || fail "reset $POOL"; }
# The benchmark's turns: runs <measure...> <mode> <rep> for each of
# <modes>, <reps> times, the modes taking turns within each repetition in
# an order that rotates from one repetition to the next (a slow phase of
# the host falls on all of them alike; the first run after a change was
# measured slower, whichever mode it was). <measure> prints one run's
# MiB/s; prints "  <label> <mode>: MiB/s <each run's>" per mode.
bench_turns() {  # <reps> <label> <measure command> <modes...>
  local reps=$1 label=$2 r i mode
  local -a cmd modes
  read -r -a cmd <<< "$3"
  shift 3
  modes=("$@")
  local -A rates=()
  for ((r = 0; r < reps; r++)); do
    for ((i = 0; i < ${#modes[@]}; i++)); do
      mode=${modes[(i + r) % ${#modes[@]}]}
      rates[$mode]+="$("${cmd[@]}" "$mode" "$r") "
    done
  done
  for mode in "${modes[@]}"; do echo "  $label $mode: MiB/s ${rates[$mode]}"; done
}
# Within 5 s no copy job is left and the fallback's buffers are all back.
assert_pool_drained() {
  local i
  for i in $(seq 50); do [[ $(pool_field jobs_active) == 0 ]] && break; sleep 0.1; done
  [[ $(pool_field jobs_active) == 0 && $(pool_field pages_in_use) == 0 && $(pool_field reserve_in_use) == 0 ]] ||
    fail "jobs left: $(cat "$POOL")"
}
