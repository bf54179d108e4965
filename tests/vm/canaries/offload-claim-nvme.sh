# expect-fail: no Copy command in QEMU's trace
# Canary: an offload claim without device-side evidence. The copy goes
# through the host (--no-offload) and is right; saying it was offloaded
# must fail.
load_nvme_provider
trap unload_providers EXIT
d=$(role nvme-a) M=$((1 << 20))
fill_random "$d" $((40 * M)) "$M"
evidence_begin "$d"
blkcopy copy "$d" "$d" --src-offset $((40 * M)) --dst-offset $((48 * M)) --length "$M" --no-offload > /dev/null
assert_same "$d" $((40 * M)) "$d" $((48 * M)) "$M"
expect_offloaded "$d" $((40 * M)) "$d" $((48 * M)) "$M"
