# Asynchronous copies through io_uring (BLKCOPY_URING_COPY), from one
# thread: `blkcopy batch` keeps 1, 16 or 256 copies in flight on one ring
# and reports each as it ends (JSON lines, in completion order). Copies of
# 4 KiB to 1 MiB, cycling, so that short copies can overtake long ones:
# out-of-order completions must be seen. Every device kind: within an
# NVMe namespace, across namespaces (format 2h), within a 4096-byte-block
# namespace, on a multipath head, across LIO LUNs, between blkcopy-linear
# volumes (all offloaded: QEMU's trace and LIO's tracepoints show exactly
# the blocks, the disks below moved no data), and across kinds (through
# the host: no device command). `blkcopy copy --queue-depth` splits one
# large copy into pieces in flight, and so does the C sample on liburing
# (samples/userspace/blkcopy_uring.c). The page cache is handled as for
# BLKCOPY. Bytes compared for every batch; the pool drains.
load_linear_target
load_nvme_provider
load_scsi_provider
trap 'remove_volumes; unload_providers' EXIT
MB=$((1 << 20)) M=2048
n=$(role nvme-a) nb=$(role nvme-b) la=$(role lio-a) lb=$(role lio-b) h=$(role scsi-hd)
sizes=(1048576 4096 262144 65536)

# Writes <count> batch lines copying <src>@<so> to <dst>@<do>, contiguous
# pieces of cycling sizes, to <file> (appending); prints the bytes.
batch_lines() {  # <file> <src> <dst> <so> <do> <count>
  local i off=0 len
  for ((i = 0; i < $6; i++)); do
    len=${sizes[i % ${#sizes[@]}]}
    echo "$2 $3 $(($4 + off)) $(($5 + off)) $len" >> "$1"
    off=$((off + len))
  done
  echo "$off"
}
OUT_OF_ORDER=0
# Runs a batch at <qd>; every copy must succeed, be reported once, and (with
# <offloaded> = all) be offloaded in full, or (none) not at all.
run_batch() {  # <file> <qd> all|none
  local out lines
  out=$(blkcopy batch "$1" --queue-depth "$2" --json) || fail "batch at depth $2: $(tail -n 3 <<< "$out")"
  lines=$(grep -c . "$1")
  [[ $(grep -c '"ok":true' <<< "$out") == "$lines" ]] || fail "batch at depth $2: not every copy succeeded: $(grep -m1 '"ok":false' <<< "$out")"
  [[ $(grep -o '"line":[0-9]*' <<< "$out" | sort -u | wc -l) == "$lines" ]] || fail "batch at depth $2: copies not reported once each"
  awk -v want="$3" -F'[:,]' '{
      for (i = 1; i < NF; i++) { if ($i == "\"length\"") l = $(i + 1); if ($i == "\"bytes_offloaded\"") o = $(i + 1) }
      if ((want == "all" && o != l) || (want == "none" && o != 0)) { print "line " NR ": offloaded " o " of " l; exit 1 }
    }' <<< "$out" || fail "batch at depth $2: offloaded bytes not as expected"
  # Completion order against submission order (line numbers).
  local ooo
  ooo=$(grep -o '"line":[0-9]*' <<< "$out" | cut -d: -f2 | awk 'NR > 1 && $1 < prev { n++ } { prev = $1 } END { print n + 0 }')
  note "batch of $lines at depth $2: $ooo completions before an earlier-submitted copy's"
  OUT_OF_ORDER=$((OUT_OF_ORDER + ooo))
  (($2 > 1 || ooo == 0)) || fail "depth 1 completed out of order"
}

# Within one namespace: 256 copies (88 MiB) at depths 1, 16 and 256.
fill_random "$n" 0 $((96 * MB))
dst=$((1024 * MB))
for qd in 1 16 256; do
  f=/tmp/batch-$qd; : > "$f"
  total=$(batch_lines "$f" "$n" "$n" 0 "$dst" 256)
  evidence_begin "$n"
  run_batch "$f" "$qd" all
  expect_offloaded "$n" 0 "$n" "$dst" "$total"
  assert_same "$n" 0 "$n" "$dst" "$total"
  dst=$((dst + 128 * MB))
done

# Every offloading kind in one batch at depth 16: NVMe across namespaces,
# within a 4096-byte-block namespace and on a multipath head, LIO across
# LUs, blkcopy-linear volumes on one namespace.
volume u-va "0 $((64 * M)) blkcopy-linear $n $((1600 * M))"; va=/dev/mapper/u-va
volume u-vb "0 $((64 * M)) blkcopy-linear $n $((1700 * M))"; vb=/dev/mapper/u-vb
k4=$(role nvme-4k) mp=$(role nvme-mp)
fill_random "$la" 0 $((24 * MB))
fill_random "$va" 0 $((24 * MB))
fill_random "$k4" 0 $((24 * MB))
fill_random "$mp" 0 $((24 * MB))
f=/tmp/batch-kinds; : > "$f"
t1=$(batch_lines "$f" "$n" "$nb" 0 $((512 * MB)) 64)
t2=$(batch_lines "$f" "$la" "$lb" 0 $((64 * MB)) 64)
t3=$(batch_lines "$f" "$va" "$vb" 0 $((8 * MB)) 64)
t4=$(batch_lines "$f" "$k4" "$k4" 0 $((256 * MB)) 64)
t5=$(batch_lines "$f" "$mp" "$mp" 0 $((256 * MB)) 64)
evidence_begin "$n" "$nb" "$la" "$lb" "$va" "$vb" "$k4" "$mp"
run_batch "$f" 16 all
expect_offloaded "$n" 0 "$nb" $((512 * MB)) "$t1" "$la" 0 "$lb" $((64 * MB)) "$t2" "$va" 0 "$vb" $((8 * MB)) "$t3" \
  "$k4" 0 "$k4" $((256 * MB)) "$t4" "$mp" 0 "$mp" $((256 * MB)) "$t5"
assert_same "$n" 0 "$nb" $((512 * MB)) "$t1"
assert_same "$la" 0 "$lb" $((64 * MB)) "$t2"
assert_same "$va" 0 "$vb" $((8 * MB)) "$t3"
assert_same "$k4" 0 "$k4" $((256 * MB)) "$t4"
assert_same "$mp" 0 "$mp" $((256 * MB)) "$t5"

# Across kinds (no provider copies between them): through the host.
f=/tmp/batch-host; : > "$f"
t1=$(batch_lines "$f" "$n" "$h" 0 $((256 * MB)) 32)
t2=$(batch_lines "$f" "$la" "$h" 0 $((512 * MB)) 32)
evidence_begin "$n" "$la" "$h"
run_batch "$f" 16 none
expect_not_offloaded
assert_same "$n" 0 "$h" $((256 * MB)) "$t1"
assert_same "$la" 0 "$h" $((512 * MB)) "$t2"
((OUT_OF_ORDER > 0)) || fail "no copy completed before an earlier-submitted one in any batch"

# One large copy in pieces kept in flight: offloaded, and through the host.
fill_random "$n" $((256 * MB)) $((64 * MB))
evidence_begin "$n"
out=$(blkcopy copy "$n" "$n" --src-offset $((256 * MB)) --dst-offset $((1536 * MB)) --length $((64 * MB)) \
  --queue-depth 8 --piece 4M --json) || fail "copy --queue-depth 8"
[[ $(json_field "$out" bytes_copied) == $((64 * MB)) && $(json_field "$out" bytes_offloaded) == $((64 * MB)) ]] ||
  fail "copy --queue-depth 8: $out"
expect_offloaded "$n" $((256 * MB)) "$n" $((1536 * MB)) $((64 * MB))
assert_same "$n" $((256 * MB)) "$n" $((1536 * MB)) $((64 * MB))
out=$(blkcopy copy "$n" "$h" --src-offset $((256 * MB)) --dst-offset $((768 * MB)) --length $((32 * MB)) \
  --queue-depth 4 --piece 1M --no-offload --json) || fail "copy --queue-depth 4 --no-offload"
[[ $(json_field "$out" bytes_copied) == $((32 * MB)) && $(json_field "$out" bytes_offloaded) == 0 ]] ||
  fail "copy --queue-depth 4 --no-offload: $out"
assert_same "$n" $((256 * MB)) "$h" $((768 * MB)) $((32 * MB))
# The C sample: 32 MiB in 2 MiB pieces, 8 in flight.
fill_random "$n" $((320 * MB)) $((32 * MB))
evidence_begin "$n"
out=$(blkcopy-uring-sample "$n" "$n" $((320 * MB)) $((1440 * MB)) $((32 * MB)) 8 $((2 * MB))) || fail "C sample: $out"
[[ $out == "copied $((32 * MB)) bytes, $((32 * MB)) offloaded" ]] || fail "C sample: $out"
expect_offloaded "$n" $((320 * MB)) "$n" $((1440 * MB)) $((32 * MB))
assert_same "$n" $((320 * MB)) "$n" $((1440 * MB)) $((32 * MB))
# The page cache, as for BLKCOPY: the source's new bytes only in dirty
# cache (a buffered write), the destination's old bytes cached. Issued
# non-blocking, the copy goes to io_uring's worker, which writes the
# source back and drops the destination's cache: the device copy has the
# new bytes, and a buffered read of the destination sees them.
head -c $MB /dev/urandom > /tmp/pc.bin
dd if=/tmp/pc.bin of="$n" bs=1M seek=400 conv=notrunc status=none || fail "buffered write"
dd if="$n" of=/dev/null bs=1M skip=1480 count=1 status=none || fail "buffered read"
echo "$n $n $((400 * MB)) $((1480 * MB)) $MB" > /tmp/batch-pc
out=$(blkcopy batch /tmp/batch-pc --json) || fail "copy of dirty cache: $out"
assert_file_same /tmp/pc.bin "$n" $((1480 * MB)) $MB
dd if="$n" bs=1M skip=1480 count=1 status=none | cmp -s - /tmp/pc.bin || fail "a buffered read of the destination saw stale cache"
assert_pool_drained
