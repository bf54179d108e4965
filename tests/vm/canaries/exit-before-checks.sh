# expect-fail: ended before its last line
# Canary: a case that leaves with status 0 before its checks must not pass.
exit 0
assert_same "$(role nvme-a)" 0 "$(role nvme-b)" 0 4096
