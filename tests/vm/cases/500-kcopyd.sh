# The kcopyd adapter (samples/blkcopy_kcopyd_sample.ko calls
# blkcopy_kcopyd_copy()): one source to 1, 2 and 8 destinations of mixed
# kinds, bytes compared, offloaded where a provider can (QEMU's trace:
# exactly the blocks of each same-namespace destination, and for the single
# destination no host I/O either); notifications in process context; an error injected on
# some destinations (dm-error, dm-flakey dropping writes) sets exactly
# their bits, with ignore-error the other destinations are complete; a
# source that cannot be read sets read_err.
load_nvme_provider
load_scsi_provider
trap 'rmmod blkcopy_kcopyd_sample 2>/dev/null || true; remove_volumes; unload_providers' EXIT
ko=$SRC/samples/blkcopy_kcopyd_sample.ko
M=2048
a=$(role nvme-a)
kcopy() {  # src src-sector count dsts dst-sectors [ignore_error=1]; echoes the result line
  insmod "$ko" src="$1" src_sector="$2" count="$3" dsts="$4" dst_sectors="$5" ${6:-} || fail "kcopyd sample: $(dmesg | grep blkcopy_kcopyd_sample)"
  rmmod blkcopy_kcopyd_sample
  dmesg | grep -o 'blkcopy_kcopyd_sample: .*' | tail -n1
}
fill_random "$a" $((700 << 20)) $((4 << 20))
src_sec=$((700 * M)) cnt=$((4 * M))
# One destination on the same namespace: offloaded.
evidence_begin "$a"
r=$(kcopy "$a" $src_sec $cnt "$a" $((800 * M)))
[[ $r == *"read_err=0 write_err=0x0 context=process" ]] || fail "1 dest: $r"
expect_offloaded "$a" $((700 << 20)) "$a" $((800 << 20)) $((4 << 20))
assert_same "$a" $((700 << 20)) "$a" $((800 << 20)) $((4 << 20))
# Two destinations: NVMe (offloaded) and LIO (through the host).
evidence_begin "$a"
r=$(kcopy "$a" $src_sec $cnt "$a,$(role lio-a)" "$((810 * M)),$((50 * M))")
expect_device_copied "$a" $((700 << 20)) "$a" $((810 << 20)) $((4 << 20))
[[ $r == *"read_err=0 write_err=0x0 "* ]] || fail "2 dests: $r"
assert_same "$a" $((700 << 20)) "$a" $((810 << 20)) $((4 << 20))
assert_same "$a" $((700 << 20)) "$(role lio-a)" $((50 << 20)) $((4 << 20))
# Eight destinations of every kind.
d8="$a,$a,$(role nvme-b),$(role lio-a),$(role lio-b),$(role scsi-hd),$(role nvme-4k),$(role lio-4k)"
s8="$((820 * M)),$((830 * M)),$((60 * M)),$((60 * M)),$((60 * M)),$((60 * M)),$((60 * M)),$((60 * M))"
o0=$(stat_field "$a" bytes_offloaded)
evidence_begin "$a"
r=$(kcopy "$a" $src_sec $cnt "$d8" "$s8")
# The NVMe destinations are offloaded: two within the namespace, one to
# nvme-b (another namespace of the controller: descriptor format 2h).
expect_device_copied "$a" $((700 << 20)) "$a" $((820 << 20)) $((4 << 20)) "$a" $((700 << 20)) "$a" $((830 << 20)) $((4 << 20)) \
  "$a" $((700 << 20)) "$(role nvme-b)" $((60 << 20)) $((4 << 20))
[[ $r == *"read_err=0 write_err=0x0 "* ]] || fail "8 dests: $r"
i=0
for d in ${d8//,/ }; do
  s=$(echo "$s8" | cut -d, -f$((i + 1)))
  assert_same "$a" $((700 << 20)) "$d" $((s * 512)) $((4 << 20))
  i=$((i + 1))
done
(( $(stat_field "$a" bytes_offloaded) >= o0 + (12 << 20) )) || fail "8 dests: the three NVMe copies were not offloaded"
# Errors on destinations 1 (dm-error) and 3 (dm-flakey failing writes).
b=$(role nvme-b) lb=$(role lio-b)
volume bl-err "0 $((64 * M)) error"
volume bl-flakey "0 $((64 * M)) flakey $(role scsi-hd) $((500 * M)) 0 5 1 error_writes"
fill_random "$b" $((90 << 20)) $((4 << 20))
fill_random "$lb" $((90 << 20)) $((4 << 20))
r=$(kcopy "$a" $src_sec $cnt "$b,/dev/mapper/bl-err,$lb,/dev/mapper/bl-flakey" "$((90 * M)),0,$((90 * M)),0" ignore_error=1)
[[ $r == *"read_err=0 write_err=0xa "* ]] || fail "ignore-error: want write_err=0xa: $r"
assert_same "$a" $((700 << 20)) "$b" $((90 << 20)) $((4 << 20))
assert_same "$a" $((700 << 20)) "$lb" $((90 << 20)) $((4 << 20))
r=$(kcopy "$a" $src_sec $cnt "$b,/dev/mapper/bl-err" "$((95 * M)),0")
[[ $r == *"read_err=0 write_err=0x2 "* ]] || fail "stop on error: want write_err=0x2: $r"
# Throttling and serialisation: 12 calls back to back on a client that
# allows 2 in flight, with a slow notify function: never more than 2
# outstanding, notifications never overlap, every call notified.
insmod "$ko" src="$a" src_sector=$src_sec count=$((M / 4)) dsts="$b" dst_sectors=$((200 * M)) calls=12 ||
  fail "throttle sample: $(dmesg | grep blkcopy_kcopyd_sample | tail -n1)"
rmmod blkcopy_kcopyd_sample
r=$(dmesg | grep -o 'blkcopy_kcopyd_sample: calls=12 .*' | tail -n1)
[[ $r == *"notified=12 most_outstanding="[12]" overlapped=0 errors=0 ret=0" ]] || fail "throttling: $r"
for i in $(seq 0 11); do
  assert_same "$a" $((src_sec * 512)) "$b" $(( (200 * M + i * M / 4) * 512 )) $((M / 4 * 512))
done
# A source that cannot be read.
r=$(kcopy /dev/mapper/bl-err 0 $cnt "$b" $((96 * M)) ignore_error=1)
[[ $r == *"read_err=1 write_err=0x0 "* ]] || fail "unreadable source: $r"
