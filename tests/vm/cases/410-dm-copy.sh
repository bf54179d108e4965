# Copy halves through blkcopy-linear volumes: offloaded where both halves
# land on devices a provider can copy between, through the host elsewhere;
# bytes equal. Offload is shown by the devices: QEMU's trace and LIO's
# tracepoints name exactly the blocks the volumes' tables map the copy to
# (computed by the test from `dmsetup table`), and the disks below did no
# I/O; partly offloaded copies show the offloaded part in the trace.
load_linear_target
load_nvme_provider
load_scsi_provider
trap 'remove_volumes; unload_providers' EXIT
M=2048
n=$(role nvme-a) la=$(role lio-a) lb=$(role lio-b) h=$(role scsi-hd)
# Two volumes on one NVMe namespace, and a second level above one of them.
volume bl-na "0 $((64 * M)) blkcopy-linear $n $((1100 * M))"; va=/dev/mapper/bl-na
volume bl-nb "0 $((64 * M)) blkcopy-linear $n $((1200 * M))"; vb=/dev/mapper/bl-nb
volume bl-nc "0 $((48 * M)) blkcopy-linear $vb $((8 * M))"; vc=/dev/mapper/bl-nc
copy_checked "$va" "$vb" $((1 << 20)) $((2 << 20)) $((16 << 20)) $((16 << 20))
assert_same "$va" $((1 << 20)) "$n" $(( (1200 * M + 2 * M) * 512 )) $((16 << 20))
copy_checked "$va" "$vc" 0 $((4 << 20)) $((8 << 20)) $((8 << 20))
# Volumes over two LIO LUNs on one nexus: cross-LU EXTENDED COPY.
volume bl-la "0 $((64 * M)) blkcopy-linear $la $((100 * M))"; la_v=/dev/mapper/bl-la
volume bl-lb "0 $((64 * M)) blkcopy-linear $lb $((100 * M))"; lb_v=/dev/mapper/bl-lb
fill_random "$la_v" 0 $((8 << 20))
evidence_begin "$la_v" "$lb_v"
out=$(blkcopy copy "$la_v" "$lb_v" --length $((8 << 20)) --json) || fail "LIO volumes"
[[ $(json_field "$out" bytes_offloaded) == $((8 << 20)) ]] || fail "LIO volumes not offloaded: $out"
expect_offloaded "$la_v" 0 "$lb_v" 0 $((8 << 20))
assert_same "$la_v" 0 "$lb_v" 0 $((8 << 20))
# A multi-line volume: 16 MiB on the NVMe namespace, then 16 MiB on lio-a.
# A copy from its NVMe part to a volume on the same namespace is offloaded;
# one that spans both lines is offloaded only for the NVMe part.
volume bl-multi "$(printf '0 %d blkcopy-linear %s %d\n%d %d blkcopy-linear %s %d' $((16 * M)) "$n" $((1300 * M)) $((16 * M)) $((16 * M)) "$la" $((200 * M)))"; mv=/dev/mapper/bl-multi
copy_checked "$mv" "$vb" 0 $((40 << 20)) $((8 << 20)) $((8 << 20))
fill_random "$mv" $((8 << 20)) $((16 << 20))
evidence_begin "$mv" "$vb"
out=$(blkcopy copy "$mv" "$vb" --src-offset $((8 << 20)) --dst-offset $((40 << 20)) --length $((16 << 20)) --json) || fail "spanning copy"
assert_same "$mv" $((8 << 20)) "$vb" $((40 << 20)) $((16 << 20))
[[ $(json_field "$out" bytes_offloaded) == $((8 << 20)) ]] || fail "spanning copy: offloaded $(json_field "$out" bytes_offloaded), want the NVMe half"
expect_device_copied "$mv" $((8 << 20)) "$vb" $((40 << 20)) $((8 << 20))
# A mixed table: a blkcopy-linear line and a stock linear line. Only the
# part under blkcopy-linear is offloaded; stock linear never sees a half.
volume bl-mixed "$(printf '0 %d blkcopy-linear %s %d\n%d %d linear %s %d' $((16 * M)) "$n" $((1400 * M)) $((16 * M)) $((16 * M)) "$n" $((1416 * M)))"; mx=/dev/mapper/bl-mixed
fill_random "$mx" 0 $((32 << 20))
evidence_begin "$mx" "$vb"
out=$(blkcopy copy "$mx" "$vb" --length $((32 << 20)) --dst-offset $((16 << 20)) --json) || fail "mixed table copy"
assert_same "$mx" 0 "$vb" $((16 << 20)) $((32 << 20))
[[ $(json_field "$out" bytes_offloaded) == $((16 << 20)) ]] || fail "mixed: offloaded $(json_field "$out" bytes_offloaded), want 16 MiB"
expect_device_copied "$mx" 0 "$vb" $((16 << 20)) $((16 << 20))
# Three levels over LIO: lio-a -> two blkcopy-linear levels -> copy to a
# volume on lio-b: still one EXTENDED COPY path, nothing through the host.
volume bl-l1 "0 $((48 * M)) blkcopy-linear $la_v $((8 * M))"; l1=/dev/mapper/bl-l1
volume bl-l2 "0 $((40 * M)) blkcopy-linear $l1 $((4 * M))"; l2=/dev/mapper/bl-l2
fill_random "$l2" 0 $((4 << 20))
evidence_begin "$l2" "$lb_v"
out=$(blkcopy copy "$l2" "$lb_v" --length $((4 << 20)) --dst-offset $((32 << 20)) --json) || fail "three-level copy"
[[ $(json_field "$out" bytes_offloaded) == $((4 << 20)) ]] || fail "three levels not offloaded: $out"
expect_offloaded "$l2" 0 "$lb_v" $((32 << 20)) $((4 << 20))
assert_same "$l2" 0 "$lb_v" $((32 << 20)) $((4 << 20))
assert_same "$l2" 0 "$la" $(( (100 + 8 + 4) << 20 )) $((4 << 20))
# A mixed table with a dm-crypt line: the crypt part is never offloaded
# (its ciphertext is not the plaintext a copy must produce) and copies
# correctly through the host.
key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
volume bl-crypt "$(printf '0 %d blkcopy-linear %s %d
%d %d crypt aes-xts-plain64 %s 0 %s %d' $((16 * M)) "$n" $((1450 * M)) $((16 * M)) $((16 * M)) "$key" "$n" $((1466 * M)))"; cx=/dev/mapper/bl-crypt
fill_random "$cx" 0 $((32 << 20))
evidence_begin "$cx" "$vb"
out=$(blkcopy copy "$cx" "$vb" --length $((32 << 20)) --dst-offset $((16 << 20)) --json) || fail "crypt table copy"
assert_same "$cx" 0 "$vb" $((16 << 20)) $((32 << 20))
[[ $(json_field "$out" bytes_offloaded) == $((16 << 20)) ]] || fail "crypt mixed: offloaded $(json_field "$out" bytes_offloaded), want 16 MiB"
expect_device_copied "$cx" 0 "$vb" $((16 << 20)) $((16 << 20))
# scsi-hd underneath: everything falls back.
volume bl-hd "0 $((64 * M)) blkcopy-linear $h $((100 * M))"; hv=/dev/mapper/bl-hd
copy_checked "$hv" "$hv" 0 $((32 << 20)) $((8 << 20)) 0
