# Oracle: sg_xcopy (EXTENDED COPY LID1) between two LIO LUNs on one nexus.
# The bytes match and the initiator's block statistics show that no data
# was read or written through it, and LIO's tracepoints show the EXTENDED
# COPY and its copy manager's reads and writes of exactly those blocks.
a=$(role lio-a); b=$(role lio-b)
fill_random "$a" $((1 << 20)) $((1 << 20))
fill_random "$b" $((4 << 20)) $((1 << 20))
assert_differ "$a" $((1 << 20)) "$b" $((4 << 20)) $((1 << 20))
evidence_begin "$a" "$b"
sg_xcopy if="$(role_sg lio-a)" of="$(role_sg lio-b)" bs=512 count=2048 skip=2048 seek=8192 2>&1 |
  tee /dev/stderr | grep_q '2048 blocks' || fail "sg_xcopy failed"
expect_offloaded "$a" $((1 << 20)) "$b" $((4 << 20)) $((1 << 20))
assert_same "$a" $((1 << 20)) "$b" $((4 << 20)) $((1 << 20))
