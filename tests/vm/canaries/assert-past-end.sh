# expect-fail: past the end
# Canary: a compare of bytes past the end of a device (both sides empty
# reads, which plain cmp calls equal) must fail the case.
d=$(role nvme-small)
end=$(size_bytes "$d")
assert_same "$d" "$end" "$d" "$end" 4096
