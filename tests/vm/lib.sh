# Guest-side helpers for blkcopy's VM tests (sourced by guest.sh and by
# every test case). Devices are named by role, never by guessed /dev path:
#
#   nvme-a, nvme-b   NVMe namespaces 1 and 2 (512-byte LBAs, Copy-capable)
#   nvme-4k          NVMe namespace 3 (4096-byte LBAs, Copy-capable)
#   nvme-small       NVMe namespace 4 (tiny Copy limits: mssrl 8, mcl 64, msrc 3)
#   nvme-mp          NVMe multipath head node (namespace of a 2nd controller
#                    in an NVMe subsystem)
#   nvme-hp          namespace of a 3rd, hot-pluggable controller (QEMU id
#                    nvme2 on root port rp-hp; 1 MiB per Copy command)
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
ROLES="nvme-a nvme-b nvme-4k nvme-small nvme-mp nvme-hp scsi-hd lio-a lio-b lio-4k"
LIO_SERIAL_lio_a=b1c0c0de000a
LIO_SERIAL_lio_b=b1c0c0de000b
LIO_SERIAL_lio_4k=b1c0c0de0004

fail() { echo "FAILED: $*" >&2; exit 1; }
skip() { echo "SKIPPED: $*" >&2; exit 77; }
note() { echo "# $*" >&2; }

role() { [[ -e /dev/role/$1 ]] || fail "no device for role $1"; readlink -f "/dev/role/$1"; }
role_sg() { [[ -e /dev/role/$1.sg ]] || fail "no sg node for role $1"; readlink -f "/dev/role/$1.sg"; }
# sysfs directory of a block device node
sysblk() { echo "/sys/class/block/$(basename "$(readlink -f "$1")")"; }
lbs() { blockdev --getss "$1"; }
size_bytes() { blockdev --getsize64 "$1"; }

# Fill <len> bytes at <off> of <dev> with random data (direct I/O).
fill_random() {
  dd if=/dev/urandom of="$1" bs=1M iflag=count_bytes oflag=direct,seek_bytes \
     seek="$2" count="$3" status=none conv=notrunc || fail "fill $1@$2+$3"
}
# sha256 of <len> bytes at <off> of <dev>, read around the page cache.
digest() {
  dd if="$1" bs=1M iflag=direct,skip_bytes,count_bytes skip="$2" count="$3" status=none |
    sha256sum | cut -d' ' -f1
}
# <len> bytes at <off> of <dev>, read around the page cache, to stdout.
read_direct() {
  dd if="$1" bs=1M iflag=direct,skip_bytes,count_bytes skip="$2" count="$3" status=none
}
# Assert <len> bytes at <offA> of <devA> equal those at <offB> of <devB>
# (compared byte by byte: cheaper than hashing under emulation).
assert_same() {
  cmp -s <(read_direct "$1" "$2" "$5") <(read_direct "$3" "$4" "$5") ||
    fail "bytes differ: $1@$2 vs $3@$4 (+$5)"
}
assert_differ() {
  cmp -s <(read_direct "$1" "$2" "$5") <(read_direct "$3" "$4" "$5")
  [[ $? == 1 ]] || fail "bytes unexpectedly equal (or unreadable): $1@$2 vs $3@$4 (+$5)"
}

# "sectors-read sectors-written" of a block device (its /sys/.../stat).
io_sectors() { awk '{print $3, $7}' "$(sysblk "$1")/stat"; }

# QEMU's NVMe copy trace: mark the current end, then read what came after.
trace_mark() { if [[ -f $NVME_TRACE ]]; then wc -l < "$NVME_TRACE"; else echo 0; fi; }
# (without the "pid@seconds:" stamps QEMU puts on each line under
# "-msg timestamp=on", which the benchmark uses)
trace_since() { tail -n +"$(($1 + 1))" "$NVME_TRACE" 2>/dev/null | sed -E 's/^[0-9]+@[0-9.]+://'; }

# Kernel log lines that fail a run.
KERNEL_BAD_RE='WARNING:|BUG:|Oops|Call Trace:|nobody cared|KASAN|UBSAN|possible circular locking|possible recursive locking|blocked for more than|general protection fault|Kernel panic|suspected memory leak|refcount_t:|list_(add|del) corruption'

# A QEMU monitor command (QMP JSON), served on the host by scripts/vm.sh
# through the shared run directory; prints QEMU's replies.
qmp() {
  local n=$$.$RANDOM i
  echo "$1" > "$RUN/qmp/$n.part" && mv "$RUN/qmp/$n.part" "$RUN/qmp/$n.req" || return 1
  for ((i = 0; i < 150; i++)); do
    if [[ -e $RUN/qmp/$n.rep ]]; then cat "$RUN/qmp/$n.rep"; rm -f "$RUN/qmp/$n.rep"; return 0; fi
    sleep 0.2
  done
  echo "no answer from the monitor agent" >&2; return 1
}
# Run a QMP command; fail the test unless QEMU returned success.
qmp_ok() {
  local out
  out=$(qmp "$1") || fail "qmp $1"
  grep -q '"return"' <<< "$out" || fail "qmp $1: $out"
}

# Copies in a loop, in the background, until <stop file> exists or a device
# node goes away: <len> bytes from <src> at each of the source offsets in
# turn (different bytes each: a copy that did nothing is caught) to <dst> at
# <dst off>. One line per copy in <log>: "ok <n> <bytes offloaded>", "BAD <n>"
# (it reported success, the bytes differ), "error <n> rc=<rc> <message>",
# "HUNG <n>" (no answer within 120 s). Sets COPIER to the loop's pid.
# COPY_LOOP_VERIFY=0: copies back to back, bytes not compared.
# copy_loop <log> <stop file> <src> <dst> <len> <dst off> <src off>...
copy_loop() {
  local log=$1 stop=$2 src=$3 dst=$4 len=$5 doff=$6
  shift 6
  rm -f "$log" "$stop"
  (
    local i=0 so out rc
    while [[ ! -e $stop && -b $src && -b $dst ]]; do
      so=${*:$((i % $# + 1)):1}; i=$((i + 1))
      if out=$(timeout 120 blkcopy copy "$src" "$dst" --src-offset "$so" --dst-offset "$doff" --length "$len" --json 2>&1); then
        if [[ ${COPY_LOOP_VERIFY:-1} == 0 ]]; then
          echo "ok $i $(json_field "$out" bytes_offloaded) unverified" >> "$log"
        elif cmp -s <(read_direct "$src" "$so" "$len") <(read_direct "$dst" "$doff" "$len"); then
          echo "ok $i $(json_field "$out" bytes_offloaded)" >> "$log"
        elif [[ -b $src && -b $dst ]] && read_direct "$src" "$so" 512 >/dev/null && read_direct "$dst" "$doff" 512 >/dev/null; then
          echo "BAD $i" >> "$log"
        else
          echo "unverified $i: a device went away" >> "$log"
        fi
      else
        rc=$?
        echo "error $i rc=$rc ${out//$'\n'/ }" >> "$log"
        ((rc == 124)) && echo "HUNG $i" >> "$log"
      fi
    done
  ) &
  COPIER=$!
}
# Stop a copy_loop and check what it logged: fail on a hang or wrong bytes.
copy_loop_end() {  # copy_loop_end <log> <stop file>
  local i
  touch "$2"
  for ((i = 0; i < 1500; i++)); do kill -0 "$COPIER" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$COPIER" 2>/dev/null && fail "copies still running 150 s after the stop: $(tail -n 3 "$1")"
  wait "$COPIER"
  grep -q '^HUNG' "$1" && fail "a copy did not return: $(grep -m1 -B1 '^HUNG' "$1" | head -n 1)"
  grep -q '^BAD' "$1" && fail "a copy reported success with wrong bytes: $(grep -m1 '^BAD' "$1")"
  true
}
# "N ok (N offloaded), N failed" of a copy_loop log.
copy_loop_summary() {
  echo "$(grep -c '^ok' "$1") ok ($(awk '$1 == "ok" && $3 > 0' "$1" | wc -l) offloaded), $(grep -c '^error' "$1") failed"
}

# --- platform setup (run once by guest.sh) ----------------------------

lio_setup() {
  local T=/sys/kernel/config/target
  modprobe target_core_mod && modprobe target_core_file && modprobe tcm_loop || return 1
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
  for b in /sys/block/nvme*n*; do
    [[ -e $b ]] || continue
    n=$(basename "$b")
    if [[ $(readlink -f "$b/device") == */nvme-subsys* ]]; then
      ln -sf "/dev/$n" /dev/role/nvme-mp
      continue
    fi
    serial=$(tr -d ' ' < "$b/device/serial"); nsid=$(cat "$b/nsid")
    [[ $serial == blkcopy-nvme2 ]] && { ln -sf "/dev/$n" /dev/role/nvme-hp; continue; }
    [[ $serial == blkcopy-nvme0 ]] || continue
    case $nsid in 1) r=nvme-a ;; 2) r=nvme-b ;; 3) r=nvme-4k ;; 4) r=nvme-small ;; *) continue ;; esac
    ln -sf "/dev/$n" "/dev/role/$r"
    ln -sf "/dev/$(basename "$(readlink -f "$b/device")")" /dev/role/nvme-ctrl
  done
  for b in /sys/block/sd*; do
    [[ -e $b ]] || continue
    n=$(basename "$b"); serial=$(scsi_serial "$b"); r=
    case $serial in
      blkcopy-scsi-hd) r=scsi-hd ;;
      "$LIO_SERIAL_lio_a") r=lio-a ;;
      "$LIO_SERIAL_lio_b") r=lio-b ;;
      "$LIO_SERIAL_lio_4k") r=lio-4k ;;
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
}

platform_setup() {
  lio_setup || { echo "LIO setup failed" >&2; return 1; }
  local i r
  for ((i = 0; i < 100; i++)); do
    discover_roles
    if roles_complete; then
      # New LUNs carry a pending unit attention (REPORTED LUNS DATA HAS
      # CHANGED); consume it so that the first command of a test does not
      # fail with it.
      for r in lio-a lio-b lio-4k; do sg_turs -n 2 "/dev/role/$r.sg" >/dev/null 2>&1; done
      return 0
    fi
    sleep 0.2
  done
  echo "devices missing: $(ls /dev/role)" >&2
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
unload_providers() {
  rmmod blkcopy_nvme 2>/dev/null; rmmod blkcopy_scsi 2>/dev/null; rmmod blkcopy_linear 2>/dev/null; true
}
# dm devices a test created (removed by remove_volumes, in reverse order).
VOLUMES=()
volume() {  # volume <name> <table>: create /dev/mapper/<name> (not in a subshell)
  dmsetup create "$1" --table "$2" || fail "dmsetup create $1: $2"
  VOLUMES+=("$1")
}
remove_volumes() {
  local i
  for ((i = ${#VOLUMES[@]} - 1; i >= 0; i--)); do dmsetup remove "${VOLUMES[i]}" 2>/dev/null; done
  VOLUMES=()
}
# A counter of the SCSI provider (debugfs blkcopy_scsi/luns, last line).
scsi_counter() { tail -n1 /sys/kernel/debug/blkcopy_scsi/luns | grep -o "$1=[0-9]*" | cut -d= -f2; }
# Copy commands, source ranges and copied blocks QEMU traced since a mark.
trace_copies() { trace_since "$1" | grep -c '^pci_nvme_copy cid'; }
# A numeric field of a one-line JSON object.
json_field() { echo "$1" | grep -o "\"$2\":[0-9]*" | cut -d: -f2; }
# A field of the debugfs stats line of a device (0 when the device has none).
stat_field() {
  local mm v
  mm=$(printf '%d:%d' "0x$(stat -L -c %t "$1")" "0x$(stat -L -c %T "$1")")
  v=$(grep "^dev=$mm " /sys/kernel/debug/blkcopy/stats | grep -o " $2=[0-9]*" | cut -d= -f2)
  echo "${v:-0}"
}
POOL=/sys/kernel/debug/blkcopy/pool
pool_field() { grep -o "$1=[0-9]*" "$POOL" | cut -d= -f2; }
# Restarts the pool's pages_peak from what is in use now.
pool_peak_reset() { echo 0 > "$POOL" || fail "reset $POOL"; }
# Within 5 s no copy job is left and the fallback's buffers are all back.
assert_pool_drained() {
  local i
  for i in $(seq 50); do [[ $(pool_field jobs_active) == 0 ]] && break; sleep 0.1; done
  [[ $(pool_field jobs_active) == 0 && $(pool_field pages_in_use) == 0 ]] || fail "jobs left: $(cat "$POOL")"
}
