# A copy whose source and destination overlap on the disk below, reached
# through different devices (a blkcopy-linear volume and its disk; two
# volumes mapping the same sectors; a volume over a partition and the whole
# disk), is refused (EINVAL, the overlap named) before anything is written
# (Documentation/blkcopy.rst, "Overlap"): on NVMe and LIO (offloaded
# otherwise) and scsi-hd (host copy only), with and without offload,
# forward and backward, by less than one device command and one fallback
# buffer and by more, and between ranges of one vectored copy. The bytes
# around both ranges are the same before and after each refusal. Copies
# that only touch (adjacent ranges) still run, offloaded where they were.
load_linear_target
load_nvme_provider
load_scsi_provider
M=2048                  # sectors per MiB
B=$((64 << 20))         # where the volume starts on the disk
P=$((1 << 20))          # where the partition starts on the disk
S=$((8 << 20))          # source offset on the volume
L=$((2 << 20))          # bytes per copy
K4=4096 BIG=$(((1 << 20) + 4096))
cleanup() {
  remove_volumes
  [[ -n ${D:-} ]] && { printf 'label: dos\n' | sfdisk -q --wipe always "$D" >/dev/null 2>&1 || true; }
  unload_providers
}
trap cleanup EXIT

# The copy is refused with EINVAL, nothing copied, and the disk bytes
# around the physical source and destination (<region off> <len> of the
# disk) as they were when the device's test began (digest BASE).
refused() {  # <what> <disk region off> <region len> <blkcopy copy args...>
  local what=$1 roff=$2 rlen=$3 out
  shift 3
  if out=$(blkcopy copy "$@" 2>&1); then
    fail "$what: copy through an alias of its source succeeded: $out"
  fi
  # The reason names the overlap (a refusal copies nothing, and says
  # "copied" only when something was).
  grep_q 'overlap' <<< "$out" || fail "$what: not refused as an overlap: $out"
  grep_q 'copied' <<< "$out" && fail "$what: bytes copied before the refusal: $out"
  [[ $(digest "$D" "$roff" "$rlen") == "$BASE" ]] || fail "$what: refused copy changed the disk"
}

for r in nvme-a lio-a scsi-hd; do
  D=$(role "$r")
  printf 'label: dos\nstart=%d, size=%d\n' $((P >> 9)) $((256 * M)) | sfdisk -q "$D" || fail "sfdisk $r"
  blockdev --rereadpt "$D" 2>/dev/null || true
  part=$(lsblk -lnpo NAME "$D" | sed -n 2p)
  for i in $(seq 50); do [[ -b $part ]] && break; sleep 0.1; part=$(lsblk -lnpo NAME "$D" | sed -n 2p); done
  [[ -b $part ]] || fail "no partition on $D"
  volume bl-a1 "0 $((64 * M)) blkcopy-linear $D $((B >> 9))"; v1=/dev/mapper/bl-a1
  # Maps the same sectors as bl-a1, 2 MiB further on.
  volume bl-a2 "0 $((64 * M)) blkcopy-linear $D $(((B >> 9) + 2 * M))"; v2=/dev/mapper/bl-a2
  fill_random "$D" $((B + S - (4 << 20))) $((L + (8 << 20)))
  src=$((B + S))        # the copy's source on the disk
  region="$((src - (3 << 19))) $((L + (3 << 20)))"
  BASE=$(digest "$D" $region)
  for sh in $K4 -$K4 $BIG -$BIG; do
    for mode in "" --no-offload; do
      refused "$r volume->disk shift $sh $mode" $region $v1 "$D" --src-offset $S --dst-offset $((src + sh)) --length $L $mode
    done
    refused "$r disk->volume shift $sh" $region "$D" $v1 --src-offset $((src + sh)) --dst-offset $S --length $L
    refused "$r volume->volume shift $sh" $region $v1 $v2 --src-offset $S --dst-offset $((S - (2 << 20) + sh)) --length $L
  done
  # Vectored: the second range's destination is the first range's source.
  refused "$r vectored" $region $v1 "$D" --range "$S:$((B + (40 << 20))):$L" --range "$((S + (16 << 20))):$src:$L"
  # Adjacent is not overlapping: the copy runs (offloaded where a provider
  # copies on this disk) and the bytes are right.
  want=$L; [[ $r == scsi-hd ]] && want=0
  out=$(blkcopy copy $v1 "$D" --src-offset $S --dst-offset $((src + L)) --length $L --json) || fail "$r adjacent copy"
  [[ $(json_field "$out" bytes_offloaded) == "$want" ]] || fail "$r adjacent copy: offloaded $(json_field "$out" bytes_offloaded), want $want"
  assert_same $v1 $S "$D" $((src + L)) $L
  out=$(blkcopy copy "$D" $v1 --src-offset $((src + L)) --dst-offset $((S - L)) --length $L --json) || fail "$r adjacent copy back"
  assert_same "$D" $((src + L)) $v1 $((S - L)) $L
  remove_volumes
  # A volume over the partition (dm claims it, so not next to volumes of
  # the whole disk): its offset x is the disk's B + x, as bl-a1's was.
  volume bl-ap "0 $((64 * M)) blkcopy-linear $part $(((B - P) >> 9))"; vp=/dev/mapper/bl-ap
  BASE=$(digest "$D" $region)   # after the adjacent copies
  for sh in $K4 -$K4 $BIG -$BIG; do
    refused "$r partition volume->disk shift $sh" $region $vp "$D" --src-offset $S --dst-offset $((src + sh)) --length $L
    refused "$r disk->partition volume shift $sh --no-offload" $region "$D" $vp --src-offset $((src + sh)) --dst-offset $S --length $L --no-offload
  done
  remove_volumes
  printf 'label: dos\n' | sfdisk -q --wipe always "$D" >/dev/null 2>&1 || fail "wipe label of $D"
  blockdev --rereadpt "$D" 2>/dev/null || true
done
D=
assert_pool_drained
