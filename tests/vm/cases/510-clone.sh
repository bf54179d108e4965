# The sample clone target (samples/blkcopy_clone.rs, "blkcopy-clone") on
# the kcopyd adapter: reads of regions not hydrated come from the source; a
# partial write hydrates its region first (one copy), a whole-region write
# does not copy; the background pass hydrates everything, offloaded on NVMe
# (QEMU's trace: every region not yet hydrated copied from its source
# blocks to its destination blocks, no host I/O) and LIO (LIO's
# tracepoints: the same, no initiator I/O), through the host on scsi-hd;
# fio writes while it runs; the final image is the source with the writes
# applied; errors, bad tables, reloads, and removal with hydration copies
# in flight on the device (a throttled namespace: QEMU's trace shows them
# outstanding when the removal begins).
load_linear_target
load_nvme_provider
load_scsi_provider
grep -q '^blkcopy_clone ' /proc/modules || insmod "$SRC/blkcopy_clone.ko" || fail "insmod blkcopy_clone"
trap 'remove_volumes; rmmod blkcopy_clone 2>/dev/null || true; unload_providers' EXIT
M=2048 R=128  # regions of 64 KiB
a=$(role nvme-a)


# --- Semantics, on two volumes of one NVMe namespace (64 MiB each) -------
S=$((64 * M))
volume cl-src "0 $S blkcopy-linear $a $((1300 * M))"
volume cl-dst "0 $S blkcopy-linear $a $((1400 * M))"
src=/dev/mapper/cl-src dst=/dev/mapper/cl-dst
fill_random "$src" 0 $((64 << 20))
fill_random "$dst" 0 $((64 << 20))
volume cl "0 $S blkcopy-clone $src $dst $R 1 no_hydration"
c=/dev/mapper/cl
[[ $(cstat cl 2) == 0/1024 && $(cstat cl 7) == no_hydration ]] || fail "fresh status: $(dmsetup status cl)"
dmsetup table cl | grep_q "blkcopy-clone $(dmsetup info -c --noheadings -o major,minor --separator : cl-src) " ||
  fail "table: $(dmsetup table cl)"
# Nothing hydrated: the clone reads as the source, the destination is as it was.
assert_same "$c" 0 "$src" 0 $((64 << 20))
assert_differ "$c" 0 "$dst" 0 $((64 << 20))
# A 4 KiB write into region 10: the region is copied first (one NVMe Copy),
# the write lands on top of it.
head -c 4096 /dev/urandom > /tmp/w4k
head -c 65536 /dev/urandom > /tmp/w64k
evidence_begin "$c"
dd if=/tmp/w4k of="$c" bs=4k seek=$((10 * 16 + 2)) oflag=direct conv=notrunc status=none || fail "partial write"
[[ $(hydrated cl) == 1 ]] || fail "partial write: $(dmsetup status cl)"
expect_device_copied "$src" $((10 * 65536)) "$dst" $((10 * 65536)) 65536
(( $(cstat cl 4) == 65536 && $(cstat cl 5) == 0 )) || fail "partial write: $(dmsetup status cl)"
# A write of all of region 20: no copy.
mark=$(trace_mark)
dd if=/tmp/w64k of="$c" bs=64k seek=20 oflag=direct conv=notrunc status=none || fail "whole-region write"
[[ $(hydrated cl) == 2 ]] || fail "whole-region write: $(dmsetup status cl)"
[[ $(trace_copies "$mark") == 0 && $(cstat cl 4) == 65536 ]] || fail "whole-region write copied: $(dmsetup status cl)"
# The expected image: the source with the two writes applied.
save_bytes "$src" 0 $((64 << 20)) /tmp/expect
dd if=/tmp/w4k of=/tmp/expect bs=4k seek=$((10 * 16 + 2)) conv=notrunc status=none
dd if=/tmp/w64k of=/tmp/expect bs=64k seek=20 conv=notrunc status=none
assert_file_same /tmp/expect "$c" 0 $((64 << 20))
# The benchmark's waiter (blkcopy-bench wait-hydrated, DM_TABLE_STATUS)
# does not return while regions are left.
out=$(blkcopy-bench wait-hydrated cl 5 --timeout 1 2>&1) && fail "wait-hydrated returned at $(dmsetup status cl)"
[[ $out == *"not hydrated after 1 s"*"2/1024"* ]] || fail "wait-hydrated: $out"
# Background hydration: offloaded, no data through the host.
evidence_begin "$c"
dmsetup message cl 0 enable_hydration || fail "enable_hydration"
blkcopy-bench wait-hydrated cl 5 --timeout 120 || fail "wait-hydrated: $(dmsetup status cl)"
[[ $(hydrated cl) == 1024 ]] || fail "wait-hydrated returned at $(dmsetup status cl)"
wait_hydrated cl 120
note "hydration status: $(dmsetup status cl)"
# Every region but 10 (hydrated by the partial write) and 20 (written whole).
K=65536
expect_offloaded "$src" 0 "$dst" 0 $((10 * K)) "$src" $((11 * K)) "$dst" $((11 * K)) $((9 * K)) \
  "$src" $((21 * K)) "$dst" $((21 * K)) $(((1024 - 21) * K))
(( $(cstat cl 4) == 1022 * 65536 + 65536 && $(cstat cl 5) == 0 && $(cstat cl 6) == 0 )) ||
  fail "hydration counters: $(dmsetup status cl)"
assert_file_same /tmp/expect "$c" 0 $((64 << 20))
assert_file_same /tmp/expect "$dst" 0 $((64 << 20))
# One table per destination: a reload of the same line is refused (it
# would forget what is hydrated); the documented way out, a linear table
# on the hydrated destination, is not.
dmsetup reload cl --table "0 $S blkcopy-clone $src $dst $R" 2>/dev/null && fail "second table on one destination accepted"
dmsetup reload cl --table "0 $S linear $dst 0" || fail "reload to linear"
dmsetup resume cl || fail "resume linear"
assert_file_same /tmp/expect "$c" 0 $((64 << 20))
dmsetup remove cl; VOLUMES=(cl-src cl-dst)

# --- fio writing while the background pass runs (one region per copy) ---
fill_random "$src" 0 $((64 << 20))
fill_random "$dst" 0 $((64 << 20))
volume cl "0 $S blkcopy-clone $src $dst $R 5 no_hydration hydration_threshold 1 hydration_batch_size 1"
evidence_begin "$c"
fio --name=clone --filename="$c" --rw=randwrite --bsrange=4k-64k --size=16M --offset=8M --direct=1 \
    --ioengine=psync --verify=crc32c --verify_fatal=1 --do_verify=1 --randseed=7 \
    --output=/tmp/fio.out >/dev/null 2>&1 &
fpid=$!
# Once fio's writes have begun hydrating regions, the background pass
# starts too, and they run side by side.
for ((i = 0; i < 300; i++)); do (( $(hydrated cl) > 0 )) && break; sleep 0.05; done
dmsetup message cl 0 enable_hydration || fail "enable_hydration"
kill -0 $fpid 2>/dev/null || fail "fio ended before the background pass began"
wait $fpid || { cat /tmp/fio.out >&2; fail "fio on the clone"; }
grep -q 'err= 0' /tmp/fio.out || fail "fio errors"
note "fio done with $(hydrated cl)/1024 regions hydrated"
wait_hydrated cl 180
(( $(cstat cl 5) == 0 && $(cstat cl 6) == 0 )) || fail "fio run: $(dmsetup status cl)"
# The regions fio did not write whole were copied on the device, each from
# its own source blocks: as many blocks as the target says it offloaded.
expect_device_copied --blocks $(($(cstat cl 4) / 512)) "$src" 0 "$dst" 0 $((64 << 20))
# Outside fio's 16 MiB the clone is the source; everywhere it is the
# destination; fio checks its own blocks again, now hydrated.
assert_same "$c" 0 "$src" 0 $((8 << 20))
assert_same "$c" $((24 << 20)) "$src" $((24 << 20)) $((40 << 20))
assert_same "$c" 0 "$dst" 0 $((64 << 20))
fio --name=clone --filename="$c" --rw=randwrite --bsrange=4k-64k --size=16M --offset=8M --direct=1 \
    --ioengine=psync --verify=crc32c --verify_fatal=1 --verify_only=1 --randseed=7 \
    --output=/tmp/fio.out >/dev/null 2>&1 || { cat /tmp/fio.out >&2; fail "fio verify after hydration"; }
dmsetup remove cl; VOLUMES=(cl-src cl-dst)
# --- Removal with hydration copies in flight on the device ----------------
# Volumes on nvme-hp, whose I/O QEMU throttles to 1 MiB/s here: a region's
# Copy (64 KiB read, 64 KiB written) takes about 125 ms in the device. The
# removal begins right after a QMP marker; QEMU's trace shows Copy commands
# submitted before the marker and not completed by then. The removal drains
# them (they complete), returns, and leaves nothing behind.
hp=$(role nvme-hp)
volume cl-ps "0 $((16 * M)) blkcopy-linear $hp 0"
volume cl-pd "0 $((16 * M)) blkcopy-linear $hp $((64 * M))"
fill_random /dev/mapper/cl-ps 0 $((16 << 20))
trap 'throttle_group hp-throttle; remove_volumes; rmmod blkcopy_clone 2>/dev/null || true; unload_providers' EXIT
throttle_group hp-throttle '"bps-total":1048576'
m0=$(trace_mark)
volume cl-pr "0 $((16 * M)) blkcopy-clone /dev/mapper/cl-ps /dev/mapper/cl-pd $R 2 hydration_threshold 8"
for ((i = 0; i < 300; i++)); do (( $(trace_copies "$m0") > 0 )) && break; sleep 0.1; done
at=$(qmp_mark '{"execute":"query-status"}')
inflight=$(nvme_inflight_at "$m0" "$at")
[[ -n $inflight ]] || fail "no hydration Copy was in flight when the removal began (trace from line $m0 to $at)"
timeout 120 dmsetup remove cl-pr || fail "remove during hydration"
throttle_group hp-throttle
note "removal began with Copy commands $(echo $inflight) in flight; they ended: $(nvme_ending_after "$at" $inflight | tr '\n' ' ')"
assert_pool_drained

# --- LIO: EXTENDED COPY between two LUNs ---------------------------------
la=$(role lio-a) lb=$(role lio-b)
volume cl-ls "0 $((32 * M)) blkcopy-linear $la $((200 * M))"
volume cl-ld "0 $((32 * M)) blkcopy-linear $lb $((200 * M))"
fill_random /dev/mapper/cl-ls 0 $((32 << 20))
fill_random /dev/mapper/cl-ld 0 $((32 << 20))
evidence_begin /dev/mapper/cl-ls /dev/mapper/cl-ld
volume cl-l "0 $((32 * M)) blkcopy-clone /dev/mapper/cl-ls /dev/mapper/cl-ld $R"
wait_hydrated cl-l 180
expect_offloaded /dev/mapper/cl-ls 0 /dev/mapper/cl-ld 0 $((32 << 20))
(( $(cstat cl-l 4) == 32 << 20 && $(cstat cl-l 5) == 0 )) || fail "LIO counters: $(dmsetup status cl-l)"
assert_same /dev/mapper/cl-l 0 /dev/mapper/cl-ls 0 $((32 << 20))
assert_same /dev/mapper/cl-ld 0 /dev/mapper/cl-ls 0 $((32 << 20))

# --- scsi-hd: no XCOPY, hydrated through the host -------------------------
h=$(role scsi-hd)
volume cl-hs "0 $((16 * M)) blkcopy-linear $h $((600 * M))"
volume cl-hd "0 $((16 * M)) blkcopy-linear $h $((700 * M))"
fill_random /dev/mapper/cl-hs 0 $((16 << 20))
volume cl-h "0 $((16 * M)) blkcopy-clone /dev/mapper/cl-hs /dev/mapper/cl-hd $R"
wait_hydrated cl-h 120
(( $(cstat cl-h 4) == 0 && $(cstat cl-h 5) == 16 << 20 )) || fail "scsi-hd counters: $(dmsetup status cl-h)"
assert_same /dev/mapper/cl-hd 0 /dev/mapper/cl-hs 0 $((16 << 20))

# --- Bad tables: refused, with dm's reason in the log ---------------------
bad() {  # table reason
  local n; n=$(dmesg | wc -l)
  dmsetup create cl-bad --table "$1" 2>/dev/null && { dmsetup remove cl-bad; fail "accepted: $1"; }
  dmesg | tail -n +$((n + 1)) | grep_q "blkcopy-clone: $2" ||
    fail "'$1': want '$2', log: $(dmesg | tail -n +$((n + 1)) | grep device-mapper | tail -n2)"
}
bad "0 $S blkcopy-clone $src $dst 96" "Invalid region size"
bad "0 $S blkcopy-clone $src $dst 4" "Invalid region size"
bad "0 $((S + 8)) blkcopy-clone $src $dst $R" "Device too small"
bad "0 $S blkcopy-clone $src $src $R" "Source and destination are the same device"
bad "0 $S blkcopy-clone $src $dst $R 2 no_hydration" "Invalid number of optional arguments"
bad "0 $S blkcopy-clone $src $dst $R 1 bogus" "Invalid optional argument"
bad "0 $S blkcopy-clone $src $dst $R 2 hydration_threshold 0" "Invalid optional argument"
bad "0 $S blkcopy-clone $src $dst" "Invalid argument count"

# --- A source that cannot be read: the write fails, nothing hydrated ------
volume cl-err "0 $((8 * M)) error"
volume cl-e "0 $((8 * M)) blkcopy-clone /dev/mapper/cl-err $dst $R 1 no_hydration"
dd if=/tmp/w4k of=/dev/mapper/cl-e bs=4k seek=3 oflag=direct conv=notrunc status=none 2>/dev/null &&
  fail "write over an unreadable source succeeded"
[[ $(hydrated cl-e) == 0 && $(cstat cl-e 6) -ge 1 ]] || fail "failed hydration: $(dmsetup status cl-e)"
bad "0 $((8 * M)) blkcopy-clone $src $dst $R" "Destination already used by a blkcopy-clone table"
