#!/usr/bin/env bash
# Boot the test kernel in QEMU with blkcopy's device topology and run one
# guest entry point (tests/vm/guest.sh <entry>). The console goes to stdout
# and to <run dir>/console.log; the guest's dmesg lands in <run dir>/dmesg.txt
# and QEMU's NVMe copy trace in <run dir>/nvme-trace.log (the guest reads it
# at /host/run/nvme-trace.log).
#
# Usage: vm.sh <kernel build dir> <run dir> <entry> [timeout seconds]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
kdir=$1 run=$2 entry=$3 limit=${4:-1500}

mkdir -p "$run"
rm -f "$run"/{console.log,dmesg.txt,nvme-trace.log,qmp.sock}

# Disks on the host side: sparse images, created once per run directory.
img() { [[ -f $run/$1.img ]] || truncate -s "$2" "$run/$1.img"; }
img nvme-a 2G; img nvme-b 2G; img nvme-4k 1G; img nvme-4k2 1G; img nvme-small 256M; img nvme-mp 512M; img nvme-hp 512M
img scsi-hd 2G

# Use KVM only where it can work: /dev/kvm is present on hosts whose CPU
# has no vmx/svm, and a KVM guest there hangs with no output.
accel=(-accel tcg -cpu max)
if [[ ${BLKCOPY_ACCEL:-auto} != tcg && -w /dev/kvm ]] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
  accel=(-accel kvm -cpu host)
fi
[[ ${BLKCOPY_ACCEL:-auto} == kvm && ${accel[1]} != kvm ]] && die "BLKCOPY_ACCEL=kvm but KVM is not usable here"
echo "${accel[1]}" > "$run/accel"

# The copy-capable NVMe controller: two 512-byte namespaces and two with
# 4096-byte blocks (QEMU 10 copies between them with descriptor format 2h). QEMU's Copy limits (mssrl: LBAs per source range, mcl:
# LBAs per command, msrc: source ranges per command, 0-based) are raised
# from the 64 KiB defaults.
nvme=(-device nvme,serial=blkcopy-nvme0,id=nvme0)
nvme_ns() {  # nvme_ns <image> <nsid> <lbs> <mssrl> <mcl> <msrc>
  nvme+=(-drive "file=$run/$1.img,if=none,id=$1,format=raw,cache=writeback"
         -device "nvme-ns,drive=$1,bus=nvme0,nsid=$2,logical_block_size=$3,physical_block_size=$3,mssrl=$4,mcl=$5,msrc=$6")
}
nvme_ns nvme-a 1 512 16384 65536 127
nvme_ns nvme-b 2 512 16384 65536 127
nvme_ns nvme-4k 3 4096 2048 8192 127
# Tiny limits (4 KiB per range, 32 KiB and 4 ranges per command): splitting.
nvme_ns nvme-small 4 512 8 64 3
# A second 4096-byte namespace: Copy between 4096-byte namespaces (format 2h).
nvme_ns nvme-4k2 5 4096 2048 8192 127
# Controllers and root ports for tests that remove a controller through the
# monitor mid-copy (tests/vm/lib.sh qmp): each behind its own PCIe root port
# (native pciehp: QEMU's ACPI hot-plug for q35 bridges is turned off).
# QEMU 10 puts every controller in an NVMe subsystem (implicit if none is
# named) and a namespace outlives its controller there: device_add of a
# controller with subsys= attaches the subsystem's shared namespaces again,
# Copy limits and all. The images are -blockdev nodes behind throttle groups
# without limits, which a test can set (qom-set /objects/hp-throttle or
# /objects/mp-throttle limits) to keep Copy commands in flight long enough
# to remove a controller under them.
nvme+=(-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off)
hp_disk() {  # hp_disk <image> <throttle group>: node <image> (throttled)
  nvme+=(-object "throttle-group,id=$2"
         -blockdev "driver=file,node-name=$1-file,filename=$run/$1.img"
         -blockdev "driver=raw,node-name=$1-raw,file=$1-file"
         -blockdev "driver=throttle,node-name=$1,throttle-group=$2,file=$1-raw")
}
# Multipath: a subsystem of two controllers (nvme1, nvme3) sharing one
# namespace, reached through a head node /dev/nvmeXnY (CONFIG_NVME_MULTIPATH=y)
# with two paths; either controller can be removed (a path going away). The
# controllers of a subsystem share its serial (QEMU 10 refuses others); a
# test tells them apart by their root port's slot (/sys/bus/pci/slots/N:
# 2 is nvme1, 3 is nvme3, 1 is nvme2).
hp_disk nvme-mp mp-throttle
nvme+=(-device nvme-subsys,id=subsys0,nqn=blkcopy-subsys
       -device pcie-root-port,id=rp-mp1,chassis=2,slot=2
       -device pcie-root-port,id=rp-mp3,chassis=3,slot=3
       -device nvme,serial=blkcopy-nvme1,id=nvme1,bus=rp-mp1,subsys=subsys0
       -device nvme,serial=blkcopy-nvme1,id=nvme3,bus=rp-mp3,subsys=subsys0
       -device "nvme-ns,drive=nvme-mp,bus=nvme1,nsid=1,shared=on,mssrl=16384,mcl=65536,msrc=127")
# A controller alone in its subsystem (nvme2): removing it takes its
# namespace away. 1 MiB per Copy command, so that a copy is many commands
# and a removal finds some not yet issued.
hp_disk nvme-hp hp-throttle
nvme+=(-device nvme-subsys,id=subsys-hp,nqn=blkcopy-hp
       -device pcie-root-port,id=rp-hp,chassis=1,slot=1
       -device "nvme,serial=blkcopy-nvme2,id=nvme2,bus=rp-hp,subsys=subsys-hp"
       -device "nvme-ns,drive=nvme-hp,bus=nvme2,nsid=1,shared=on,mssrl=2048,mcl=2048,msrc=127")

# QEMU trace events: the device-side record of NVMe Copy commands, the
# completions of NVMe commands (a Copy traced without its completion was
# in flight), and every QMP command the monitor runs (the instant a fault
# the guest asked for struck, or a marker: tests/vm/lib.sh qmp_mark).
printf '%s\n' 'pci_nvme_copy*' 'pci_nvme_err_copy*' pci_nvme_enqueue_req_completion 'qmp_enter_*' > "$run/trace-events"
# Profiling: more events ($BLKCOPY_TRACE_EVENTS, space-separated patterns)
# and extra QEMU arguments ($BLKCOPY_QEMU_ARGS, e.g. "-msg timestamp=on" to
# stamp every trace line).
for e in ${BLKCOPY_TRACE_EVENTS:-}; do echo "$e" >> "$run/trace-events"; done
# shellcheck disable=SC2206
extra=(${BLKCOPY_QEMU_ARGS:-})
# shellcheck disable=SC2206
array_extra=(${BLKCOPY_ARRAY_QEMU_ARGS:-})  # the same for the array's QEMU

initrd=$run/initramfs.cpio
# Extra guest binaries (the project's userspace tools) come from $GUEST_BINS.
# shellcheck disable=SC2086
"$REPO_ROOT/scripts/build-initramfs.sh" "$kdir" "$initrd" ${GUEST_BINS:-}

# The guest's monitor requests: it writes a QMP command to <run>/qmp/<n>.req
# (through the shared run directory) and reads QEMU's answer from <n>.rep;
# <run>/array-qmp/ likewise reaches the array VM's monitor.
qmp_agent() {  # <request dir> <QMP socket>
  local req
  while :; do
    for req in "$1"/*.req; do
      [[ -e $req ]] || continue
      { echo '{"execute":"qmp_capabilities"}'; cat "$req"; sleep 1; } |
        socat -t 2 - "UNIX-CONNECT:$2" > "${req%.req}.out" 2>&1
      mv "${req%.req}.out" "${req%.req}.rep"; rm -f "$req"
    done
    sleep 0.2
  done
}
rm -rf "$run/qmp" "$run/array-qmp"; mkdir -p "$run/qmp" "$run/array-qmp"
qmp_agent "$run/qmp" "$run/qmp.sock" & agent=$!
array_pid= array_agent=
# The array's QEMU gets 5 s to go (one whose main loop hangs ignores
# SIGTERM).
stop_helpers() {
  local i
  kill $agent $array_agent $array_pid 2>/dev/null || true
  [[ -n $array_pid ]] || return 0
  for ((i = 0; i < 50; i++)); do kill -0 "$array_pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$array_pid" 2>/dev/null || true
}
trap stop_helpers EXIT

# The storage array (BLKCOPY_ARRAY=1): a second VM booting Debian's own
# kernel (scripts/build-array.sh, tests/vm/array-init) with its own NVMe
# controller, exporting iSCSI and NVMe/TCP over a virtio-net link to the
# test VM: a QEMU stream netdev on 127.0.0.1 (no root, nothing else on
# the link). Its console goes to <run>/array-console.log, QEMU's NVMe Copy
# trace of its controller to <run>/array-trace.log (the array-side record
# of the Copy commands the initiator's travel through nvmet passthru, and
# of the array's monitor commands: markers). The array's NVMe namespace is
# behind a throttle group without limits (array-nvme-throttle), which a
# fault test sets through the array's monitor to keep Copy commands in
# flight (the disk under the iblock LUN too: array-lun-throttle).
net=(-nic none) append=
if [[ ${BLKCOPY_ARRAY:-0} == 1 ]]; then
  vmlinuz=$("$REPO_ROOT/scripts/build-array.sh" "$run/array.cpio")
  # The benchmark's network part asks for bigger disks (1 GiB copies):
  # BLKCOPY_ARRAY_NVME_SIZE for this image, BLKCOPY_ARRAY_LUN_MIB for
  # iscsi-a/iscsi-b (in the array's memory: BLKCOPY_ARRAY_MEM).
  img array-nvme "${BLKCOPY_ARRAY_NVME_SIZE:-1G}"
  img array-lun 128M
  # -blockdev throttle nodes: a -drive joins its throttling.group only
  # when it has limits of its own.
  adisks=()
  for d in array-nvme array-lun; do
    adisks+=(-object "throttle-group,id=$d-throttle"
             -blockdev "driver=file,node-name=$d-file,filename=$run/$d.img"
             -blockdev "driver=raw,node-name=$d-raw,file=$d-file"
             -blockdev "driver=throttle,node-name=$d,throttle-group=$d-throttle,file=$d-raw")
  done
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  rm -rf "$run/array"; rm -f "$run"/array-{console,trace}.log "$run/array-qmp.sock"
  printf '%s\n' 'pci_nvme_copy*' 'pci_nvme_err_copy*' pci_nvme_enqueue_req_completion 'qmp_enter_*' > "$run/array-trace-events"
  qemu-system-x86_64 -machine q35 "${accel[@]}" -smp 1 -m "${BLKCOPY_ARRAY_MEM:-2G}" -display none -no-reboot -monitor none \
    -serial "file:$run/array-console.log" \
    -qmp "unix:$run/array-qmp.sock,server=on,wait=off" \
    -kernel "$vmlinuz" -initrd "$run/array.cpio" -append "console=ttyS0 loglevel=4 panic=-1 rdinit=/init blkcopy.lun_mib=${BLKCOPY_ARRAY_LUN_MIB:-256}" \
    -virtfs "local,path=$run,mount_tag=blkcopy_run,security_model=none" \
    -device nvme,serial=blkcopy-array-nvme,id=anvme \
    "${adisks[@]}" -device virtio-blk-pci,drive=array-lun \
    -device "nvme-ns,drive=array-nvme,bus=anvme,nsid=1,mssrl=16384,mcl=65536,msrc=127" \
    -netdev "stream,id=n0,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port=$port" \
    -device virtio-net-pci,netdev=n0,mac=52:54:00:b1:c0:01 \
    -trace "events=$run/array-trace-events,file=$run/array-trace.log" "${array_extra[@]}" </dev/null &
  array_pid=$!
  qmp_agent "$run/array-qmp" "$run/array-qmp.sock" & array_agent=$!
  for ((i = 0; i < 100; i++)); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.1; done
  ss -Hltn "sport = :$port" | grep -q . || die "the array VM does not listen on 127.0.0.1:$port"
  net=(-netdev "stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=$port"
       -device virtio-net-pci,netdev=n0,mac=52:54:00:b1:c0:02)
  append=" blkcopy.array=1"
fi

set +e
timeout --foreground -k 10 "$limit" qemu-system-x86_64 \
  -machine q35 "${accel[@]}" -smp 2 -m "${BLKCOPY_VM_MEM:-4G}" \
  -nographic -no-reboot -monitor none -serial stdio "${net[@]}" \
  -qmp "unix:$run/qmp.sock,server=on,wait=off" \
  -kernel "$kdir/arch/x86/boot/bzImage" -initrd "$initrd" \
  -append "console=ttyS0 loglevel=5 log_buf_len=8M panic=-1 oops=panic rdinit=/init blkcopy.run=$entry$append" \
  -virtfs "local,path=$REPO_ROOT,mount_tag=blkcopy_src,security_model=none,readonly=on" \
  -virtfs "local,path=$run,mount_tag=blkcopy_run,security_model=none" \
  "${nvme[@]}" \
  -device virtio-scsi-pci,id=scsi0 \
  -drive "file=$run/scsi-hd.img,if=none,id=scsi-hd,format=raw,cache=writeback" \
  -device scsi-hd,drive=scsi-hd,bus=scsi0.0,serial=blkcopy-scsi-hd \
  -trace "events=$run/trace-events,file=$run/nvme-trace.log" \
  "${extra[@]}" </dev/null 2>&1 | tee "$run/console.log"
rc=${PIPESTATUS[0]}
set -e
if ((rc == 124 || rc == 137)); then
  log "guest did not come back within $limit s"
  exit 3
fi
grep -q '^BLKCOPY-GUEST-EXIT ' "$run/console.log" || { log "guest died (no exit marker)"; exit 3; }
exit 0
