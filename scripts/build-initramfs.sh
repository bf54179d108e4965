#!/usr/bin/env bash
# Build the guest's initramfs: busybox, the host tools tests use (with their
# shared libraries), the kernel's own modules and /init.
#
# Why a plain initramfs and not virtme-ng: on these hosts the guest runs
# under TCG, where every exec over a 9p root costs time; a cpio of exactly
# the tools the tests use boots in seconds, needs no extra kernel options
# beyond 9p for two shared directories, and does not depend on the host's
# root layout. The repository and a run directory are shared over 9p.
#
# Usage: build-initramfs.sh <kernel build dir> <output.cpio> [extra binary...]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
kdir=$1 out=$2; shift 2

HOST_TOOLS=(
  bash kmod nvme dmsetup fio sfdisk blockdev dd stat
  timeout sg_inq sg_vpd sg_xcopy sg_opcodes sg_readcap sg_copy_results
  sg_raw sg_turs sg_map26 lsblk blkdiscard mke2fs e2fsck iscsiadm iscsid
  "$@"
)

stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
cd "$stage"
mkdir -p bin sbin usr/bin usr/sbin usr/lib usr/lib64 dev proc sys tmp run etc host/src host/run
ln -s usr/lib lib; ln -s usr/lib64 lib64
cp /bin/busybox bin/busybox
mknod -m 600 dev/console c 5 1
mknod -m 666 dev/null c 1 3

# Paths as the host names them, mapped into the usr-merged staging tree.
usr_path() { case $1 in /usr/*) echo "${1#/}" ;; *) echo "usr$1" ;; esac; }
put() {  # put <host file> <staging path>: copy the file's content once
  [[ -e $2 ]] && return 0
  mkdir -p "$(dirname "$2")"; cp -L "$1" "$2"
}
copy_with_libs() {  # $1: absolute path of an executable
  case $1 in
    /usr/*|/bin/*|/sbin/*) put "$1" "$(usr_path "$1")" ;;
    *) put "$1" "usr/bin/$(basename "$1")" ;;  # the project's own tools
  esac
  local lib
  for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*'); do
    put "$lib" "$(usr_path "$lib")"
  done
}
for t in "${HOST_TOOLS[@]}"; do
  p=$t; [[ $p == /* ]] || p=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$t") || die "host tool $t missing"
  copy_with_libs "$p"
done
for l in modprobe insmod rmmod lsmod depmod modinfo; do ln -sf ../bin/kmod usr/sbin/$l; ln -sf ../usr/bin/kmod sbin/$l; done

# The kernel's own modules (LIO) and their dependency index.
cp -a "$kdir/modroot/lib/modules" usr/lib/

cp "$REPO_ROOT/tests/vm/init" init
chmod 755 init
find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet > "$out"
