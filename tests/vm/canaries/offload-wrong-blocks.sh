# expect-fail: written outside the expected destination blocks
# Canary: a copy that was offloaded, claimed for destination blocks one
# block away from where the device wrote them: the trace's LBAs are
# checked, not only its command count.
load_nvme_provider
trap unload_providers EXIT
d=$(role nvme-a) M=$((1 << 20))
fill_random "$d" $((40 * M)) "$M"
evidence_begin "$d"
blkcopy copy "$d" "$d" --src-offset $((40 * M)) --dst-offset $((48 * M)) --length "$M" > /dev/null
assert_same "$d" $((40 * M)) "$d" $((48 * M)) "$M"
expect_offloaded "$d" $((40 * M)) "$d" $((48 * M + 512)) "$M"
