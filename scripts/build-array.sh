#!/usr/bin/env bash
# The storage array VM's boot files: Debian's own packaged 6.12 kernel
# (vmlinuz and the modules the array loads, from the linux-image .deb the
# registry serves) and an initramfs with busybox, kmod, iproute2's tc and
# tests/vm/array-init. Nothing of blkcopy runs on the array: its iSCSI
# target (LIO) and NVMe/TCP target (nvmet passthru) are the kernel's.
#
# The package is cached in ~/.cache/blkcopy/array-<version>; the initramfs
# is written to <output.cpio>.
#
# Usage: build-array.sh <output.cpio>   (prints the vmlinuz path)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
out=$1

dir=$CACHE_DIR/array-$ARRAY_KERNEL_VERSION
if [[ ! -f $dir/done ]]; then
  log "array kernel: $ARRAY_KERNEL_PKG $ARRAY_KERNEL_VERSION (Debian's linux-image package)"
  rm -rf "$dir"; mkdir -p "$dir/deb"
  # (apt's sandbox user cannot write into root's cache: download unsandboxed)
  (cd "$dir/deb" && apt-get download -q=2 -o APT::Sandbox::User=root "$ARRAY_KERNEL_PKG=$ARRAY_KERNEL_VERSION") ||
    die "apt-get download $ARRAY_KERNEL_PKG=$ARRAY_KERNEL_VERSION"
  dpkg-deb -x "$dir"/deb/*.deb "$dir/root"
  rm -rf "$dir/deb"
  # The package leaves the module index to its postinst: build it here.
  depmod -b "$dir/root" "$(ls "$dir/root/lib/modules")"
  touch "$dir/done"
fi
kver=$(ls "$dir/root/lib/modules")
[[ -f $dir/root/boot/vmlinuz-$kver ]] || die "no vmlinuz-$kver in $ARRAY_KERNEL_PKG"

# The modules the array loads, with what they depend on (modules.dep).
ARRAY_MODULES=(
  virtio_net virtio_blk 9pnet_virtio 9p configfs nvme
  target_core_mod target_core_file target_core_iblock iscsi_target_mod
  nvmet nvmet-tcp sch_tbf sch_htb sch_ingress cls_u32 act_police dm-mod crc32c_generic
)
mdir=$dir/root/lib/modules/$kver
closure() {
  local m f dep
  for m in "$@"; do
    f=$(awk -F: -v m="$m" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.xz)?$/, "", n); gsub(/-/, "_", n)
                              w = m; gsub(/-/, "_", w); if (n == w) { print $1; exit } }' "$mdir/modules.dep")
    [[ -n $f ]] || die "array kernel has no module $m"
    echo "$f"
    for dep in $(awk -F: -v f="$f" '$1 == f { print $2 }' "$mdir/modules.dep"); do echo "$dep"; done
  done | sort -u
}

stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
cd "$stage"
mkdir -p bin sbin usr/bin usr/sbin "usr/lib/modules/$kver" usr/lib64 dev proc sys tmp run etc host/run
ln -s usr/lib lib; ln -s usr/lib64 lib64
cp /bin/busybox bin/busybox
mknod -m 600 dev/console c 5 1
mknod -m 666 dev/null c 1 3
for f in $(closure "${ARRAY_MODULES[@]}"); do
  mkdir -p "usr/lib/modules/$kver/$(dirname "$f")"
  cp "$mdir/$f" "usr/lib/modules/$kver/$f"
  # Uncompressed: the kernel is handed plain ELF (kmod would otherwise try
  # the compressed file first, which the kernel logs as invalid).
  [[ $f == *.xz ]] && xz -d "usr/lib/modules/$kver/$f"
done
cp "$mdir"/modules.order "$mdir"/modules.builtin* "usr/lib/modules/$kver/"
depmod -b "$stage/usr" "$kver"
usr_path() { case $1 in /usr/*) echo "${1#/}" ;; *) echo "usr$1" ;; esac; }
for t in kmod tc dmsetup; do
  p=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$t") || die "host tool $t missing"
  for f in "$p" $(ldd "$p" 2>/dev/null | grep -o '/[^ ]*'); do
    [[ -e $(usr_path "$f") ]] || { mkdir -p "$(dirname "$(usr_path "$f")")"; cp -L "$f" "$(usr_path "$f")"; }
  done
done
for l in modprobe insmod rmmod lsmod; do ln -sf ../bin/kmod "usr/sbin/$l"; ln -sf ../usr/bin/kmod "sbin/$l"; done
cp "$REPO_ROOT/tests/vm/array-init" init
chmod 755 init
find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet > "$out"
echo "$dir/root/boot/vmlinuz-$kver"
