# Cache flushes, O_SYNC/O_DSYNC (FUA) writes and a journalling filesystem
# on blkcopy-linear volumes whose lines start past sector 0, one level and
# two levels deep, over NVMe, LIO and scsi-hd. dm sends an empty flush to
# the lines of a table whose targets do not all let flushes bypass map;
# mapping one like a data bio (sector 0 minus the line's start) once
# panicked the kernel (overflow check). Every write is read back from the
# disk below at the place the tables map it to; a flush is shown by the
# disk's own flush counter (/sys/block/<disk>/stat, field 16; a multipath
# head's: its paths' counters) wherever the
# disk has a volatile write cache (queue/write_cache "write back"). LIO's
# fileio LUN emulates one for this test (emulate_write_cache), so that all
# three disks show their flushes.
load_linear_target
LW=/sys/kernel/config/target/core/fileio_0/lio-a/attrib/emulate_write_cache
lio_wce() {  # 0|1: LIO's write cache emulation, and sd reads it again
  echo "$1" > "$LW" && echo 1 > "$(sysblk "$(role lio-a)")/device/rescan"
}
trap 'umount /mnt/bl 2>/dev/null || true; remove_volumes; lio_wce 0 || true; unload_providers' EXIT
lio_wce 1 || fail "LIO write cache emulation"
M=2048   # sectors per MiB
# A multipath head nvmeXnY (bio-based) counts no flushes: its paths'
# disks nvmeXcZnY (hidden, in /sys/block) do.
flushes() {
  local n; n=$(blkname "$1")
  if [[ $(readlink -f "/sys/class/block/$n/device") == */nvme-subsys* ]]; then
    cat "/sys/block/${n%n*}"c*"n${n##*n}/stat" | awk '{n += $16} END {print n + 0}'
  else awk '{print $16}' "/sys/class/block/$n/stat"; fi
}
write_back() { [[ $(cat "$(sysblk "$1")/queue/write_cache") == "write back" ]]; }
head -c $((64 << 10)) /dev/urandom > /tmp/flush-blk || fail "random block"
mkdir -p /mnt/bl

# Writes /tmp/flush-blk at <off> of <vol> with dd <flags...>, and checks
# the disk below got it at <disk off> and, where it caches writes, a flush.
sync_write() {  # <vol> <off> <disk> <disk off> <what> <dd args...>
  local vol=$1 off=$2 disk=$3 doff=$4 what=$5 f0 f1
  shift 5
  f0=$(flushes "$disk")
  dd if=/tmp/flush-blk of="$vol" bs=64k seek=$((off >> 16)) count=1 "$@" status=none || fail "$what on $vol"
  f1=$(flushes "$disk")
  assert_file_same /tmp/flush-blk "$disk" "$doff" $((64 << 10))
  if write_back "$disk"; then
    ((f1 > f0)) || fail "$what on $vol: no flush reached $disk ($f0 -> $f1)"
  fi
}

for r in nvme-b lio-a scsi-hd; do
  d=$(role "$r")
  write_back "$d" || note "$r: write-through cache, flushes not sent to the disk (bytes still checked)"
  # Level 1: two lines on $d, the second mapped before the first, and a
  # zero line (a target whose flushes do not bypass map: dm sends the
  # table's flushes through every line's map).
  volume bl-f1 "$(printf '0 %d blkcopy-linear %s %d\n%d %d blkcopy-linear %s %d\n%d %d zero' \
    $((32 * M)) "$d" $((96 * M)) $((32 * M)) $((64 * M)) "$d" $((8 * M)) $((96 * M)) $((8 * M)))"; v1=/dev/mapper/bl-f1
  # Level 2: two lines on level 1, swapped again (only blkcopy-linear
  # lines: flushes bypass map and go to level 1 directly).
  volume bl-f2 "$(printf '0 %d blkcopy-linear %s %d\n%d %d blkcopy-linear %s %d' \
    $((48 * M)) "$v1" $((48 * M)) $((48 * M)) $((48 * M)) "$v1" 0)"; v2=/dev/mapper/bl-f2
  # Byte <o> of level 1 is on $d at: line 0 -> 96 MiB + o, line 1 -> 8 MiB + (o - 32 MiB).
  l1_disk() { if (($1 < (32 << 20))); then echo $(((96 << 20) + $1)); else echo $(((8 << 20) + $1 - (32 << 20))); fi; }
  # Byte <o> of level 2 is at level 1: line 0 -> 48 MiB + o, line 1 -> o - 48 MiB.
  l2_disk() { if (($1 < (48 << 20))); then l1_disk $(((48 << 20) + $1)); else l1_disk $(($1 - (48 << 20))); fi; }
  for o in $((1 << 20)) $((40 << 20)); do
    sync_write "$v1" "$o" "$d" "$(l1_disk "$o")" "fsync" conv=fsync
    sync_write "$v1" $((o + (128 << 10))) "$d" "$(l1_disk $((o + (128 << 10))))" "O_SYNC|O_DIRECT" oflag=direct,sync
  done
  for o in $((2 << 20)) $((60 << 20)); do
    sync_write "$v2" "$o" "$d" "$(l2_disk "$o")" "fsync" conv=fsync
    sync_write "$v2" $((o + (128 << 10))) "$d" "$(l2_disk $((o + (128 << 10))))" "O_DSYNC|O_DIRECT" oflag=direct,dsync
    sync_write "$v2" $((o + (256 << 10))) "$d" "$(l2_disk $((o + (256 << 10))))" "O_SYNC" oflag=sync
  done
  # fsync with nothing written: an empty flush of each volume alone.
  for v in "$v1" "$v2"; do
    f0=$(flushes "$d")
    dd if=/dev/null of="$v" conv=fsync,notrunc status=none || fail "fsync of $v"
    f1=$(flushes "$d")
    if write_back "$d"; then ((f1 > f0)) || fail "empty fsync of $v: no flush reached $d"; fi
  done
  # ext4 (journal commits are PREFLUSH|FUA writes) on the two-level volume.
  mke2fs -t ext4 -q -F -b 4096 "$v2" || fail "mke2fs on $v2 ($r)"
  mount -t ext4 "$v2" /mnt/bl || fail "mount $v2 ($r)"
  head -c $((8 << 20)) /dev/urandom > /tmp/flush-file || fail "random file"
  cp /tmp/flush-file /mnt/bl/f || fail "write file ($r)"
  f0=$(flushes "$d"); sync || fail "sync"; f1=$(flushes "$d")
  if write_back "$d"; then ((f1 > f0)) || fail "sync of ext4 on $v2: no flush reached $d"; fi
  umount /mnt/bl || fail "umount ($r)"
  e2fsck -f -n "$v2" > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out >&2; fail "e2fsck on $v2 ($r)"; }
  mount -t ext4 -o ro "$v2" /mnt/bl || fail "mount again ($r)"
  assert_same /tmp/flush-file 0 /mnt/bl/f 0 $((8 << 20))
  umount /mnt/bl || fail "umount ($r)"
  remove_volumes
done
