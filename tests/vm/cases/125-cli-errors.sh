# Every bad input of the ioctl list that the blkcopy command can express
# gets its named reason (struct blkcopy_error, Documentation/blkcopy.rst):
# one line "blkcopy: <reason>" naming the range (of several), the device
# and the limit, exit status 1, and not a byte of any destination changed.
# Through BLKCOPY, through io_uring (--queue-depth: a copy the command
# splits is checked whole first; an overlap on a disk below is found by
# the kernel, piece by piece), and as JSON from blkcopy batch ("rule").
load_linear_target
load_nvme_provider
trap 'remove_volumes; printf "label: dos\n" | sfdisk -q --wipe always "$k" >/dev/null 2>&1 || true; unload_providers' EXIT
MB=$((1 << 20)) M=2048
a=$(role nvme-a) b=$(role nvme-b) k=$(role nvme-4k) h=$(role scsi-hd)
asz=$(size_bytes "$a") bsz=$(size_bytes "$b")
printf 'label: dos\nstart=2048, size=65536\n' | sfdisk -q "$k" || fail "sfdisk"
blockdev --rereadpt "$k" 2>/dev/null || true
for i in $(seq 50); do [[ -b ${k}p1 ]] && break; sleep 0.1; done
kp=${k}p1
[[ -b $kp ]] || fail "no partition on $k"
psz=$(size_bytes "$kp") pstart=$(($(cat "$(sysblk "$kp")/start") * 512))
volume bl-e "0 $((64 * M)) blkcopy-linear $a $((256 * M))"
v=/dev/mapper/bl-e
truncate -s 1M /tmp/not-a-device

# Everything a refused copy below could write, as it was.
regions=("$a 0 $((16 * MB))" "$a $((256 * MB)) $((16 * MB))" "$a $((asz - 8 * MB)) $((8 * MB))"
  "$b 0 $((16 * MB))" "$b $((bsz - 8 * MB)) $((8 * MB))" "$k $((64 * MB)) $((8 * MB))"
  "$kp 0 $((16 * MB))" "$kp $((psz - 8 * MB)) $((8 * MB))" "$h 0 $((8 * MB))")
for r in "${regions[@]}"; do
  read -r dev off len <<< "$r"
  fill_random "$dev" "$off" "$len"
done
sums() { local r; for r in "${regions[@]}"; do digest $r; done; }
before=$(sums)

# blkcopy <args> fails (status 1) with exactly the line "blkcopy: <reason>".
refused() {  # <reason> <blkcopy args...>
  local want="blkcopy: $1" out rc=0
  shift
  out=$(blkcopy "$@" 2>&1 >/dev/null) || rc=$?
  ((rc == 1)) || fail "blkcopy $*: exit status $rc, want 1 ($out)"
  [[ $out == "$want" ]] || fail "blkcopy $*: said '$out', want '$want'"
}

for qd in "" "--queue-depth 4 --piece 1M"; do
  # shellcheck disable=SC2086 # $qd: its words
  {
    refused "offsets and length must be multiples of 512 (logical block size of $a and $b)" \
      copy "$a" "$b" --src-offset 100 --length 4096 $qd
    refused "offsets and length must be multiples of 512 (logical block size of $a and $b)" \
      copy "$a" "$b" --length 1000 $qd
    refused "offsets and length must be multiples of 4096 (logical block size of $k)" \
      copy "$a" "$k" --dst-offset 512 --length 8192 $qd
    refused "range 2: destination ends at $((bsz + 4096)), past the end of $b ($bsz bytes)" \
      copy "$a" "$b" --range 0:0:4K --range 8K:8K:4K --range 16K:$((bsz - 4096)):8K $qd
    refused "source ends at $((asz + 4 * MB)), past the end of $a ($asz bytes)" \
      copy "$a" "$b" --src-offset $((asz - 4 * MB)) --length $((8 * MB)) $qd
    refused "destination ends at $((psz + 4096)), past the end of $kp ($psz bytes)" \
      copy "$k" "$kp" --src-offset $((64 * MB)) --dst-offset $((psz - 4096)) --length 8192 $qd
    refused "source and destination overlap on $a" \
      copy "$a" "$a" --src-offset $MB --dst-offset $((MB + 4096)) --length $((4 * MB)) $qd
    refused "range 0: destination overlaps the source of range 1 on $a" \
      copy "$a" "$a" --range 0:8M:1M --range 8M:12M:1M $qd
    refused "range 1: destination overlaps the destination of range 0 on $b" \
      copy "$a" "$b" --range 0:8M:1M --range 4M:8M:4K $qd
    refused "length must not be 0" copy "$a" "$b" --length 0 $qd
  }
done
# Partitions of one disk: the partition's offsets are its own, the overlap
# is on the disk.
refused "source and destination overlap on $kp" copy "$k" "$kp" --src-offset $((pstart + 4096)) --length 8192
refused "a copy takes 1 to 256 ranges" copy "$a" "$b" $(for i in $(seq 257); do echo --range $((i * 8192)):$((i * 8192)):4K; done)
refused "/tmp/not-a-device: not a block device open for reading" copy /tmp/not-a-device "$b" --length 4096
refused "$((MB)) bytes cannot be offloaded (offload only); see blkcopy info $h $h" \
  copy "$h" "$h" --dst-offset $((4 * MB)) --length $MB --offload-only
# The volume maps 256 MiB on of nvme-a: its offset 0 is the disk's
# 256 MiB. Found by the kernel where the halves land, through the ioctl
# and through the ring (every 1 MiB piece overlaps itself).
refused "$v and $a reach the same disk, where a destination overlaps a source or another destination (at byte $((256 * MB + MB)) of that disk)" \
  copy "$v" "$a" --src-offset 0 --dst-offset $((256 * MB + MB)) --length $((4 * MB))
out=$(blkcopy copy "$v" "$a" --src-offset 0 --dst-offset $((256 * MB + 4096)) --length $((4 * MB)) --queue-depth 4 --piece 1M 2>&1) &&
  fail "overlap below through the ring succeeded: $out"
grep_q "reach the same disk, where a destination overlaps" <<< "$out" || fail "through the ring: $out"
blockdev --setro "$b"
out=$(blkcopy copy "$a" "$b" --length 4096 2>&1) && { blockdev --setrw "$b"; fail "copy to a read-only device succeeded"; }
blockdev --setrw "$b"
[[ $out == "blkcopy: $b is read-only" ]] || fail "read-only destination: $out"

# blkcopy batch --json names the rule of each refused copy.
out=$(printf '%s\n' "$a $b 100 0 4096" "$a $a 1M 1M 4K" "$a $b 0 $((bsz - 4096)) 8K" "$a $b 0 0 4K" |
  blkcopy batch --queue-depth 1 --json 2>/dev/null) && fail "batch with refused copies succeeded"
rules=$(grep -o '"rule":[^,]*' <<< "$out" | tr '\n' ' ')
[[ $rules == '"rule":"alignment" "rule":"overlap_src" "rule":"dst_end" "rule":null ' ]] || fail "batch rules: $rules ($out)"
grep_q "\"error\":\"destination ends at $((bsz + 4096)), past the end of $b ($bsz bytes)\"" <<< "$out" || fail "batch words: $out"
# (The one good copy wrote 4 KiB at 0 of nvme-b: put it back.)
assert_same "$a" 0 "$b" 0 4096
before=$(sed "4s/.*/$(digest "$b" 0 $((16 * MB)))/" <<< "$before")
note "every refusal named its rule; destinations unchanged"

[[ $(sums) == "$before" ]] || fail "a refused copy changed a destination"
