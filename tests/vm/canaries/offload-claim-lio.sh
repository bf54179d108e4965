# expect-fail: no EXTENDED COPY in LIO's trace
# Canary: the same on LIO: a copy through the host claimed as EXTENDED COPY.
load_scsi_provider
trap unload_providers EXIT
a=$(role lio-a) b=$(role lio-b) M=$((1 << 20))
fill_random "$a" $((40 * M)) "$M"
evidence_begin "$a" "$b"
blkcopy copy "$a" "$b" --src-offset $((40 * M)) --dst-offset $((48 * M)) --length "$M" --no-offload > /dev/null
assert_same "$a" $((40 * M)) "$b" $((48 * M)) "$M"
expect_offloaded "$a" $((40 * M)) "$b" $((48 * M)) "$M"
