# BLKCOPY_INFO through `blkcopy info`: capacity, block size, provider, and
# why a pair cannot be offloaded.
load_blkcopy
j=$(blkcopy info "$(role nvme-4k)" --json) || fail "info"
[[ $(json_field "$j" logical_block_size) == 4096 && $(json_field "$j" capacity) == $((1 << 30)) ]] || fail "$j"
echo "$j" | grep_q '"provider":"none"' || fail "provider: $j"
j=$(blkcopy info "$(role nvme-a)" "$(role nvme-4k)" --json)
echo "$j" | grep_q '"pair_offload":false,"pair_reason":"block_size"' || fail "$j"
j=$(blkcopy info "$(role lio-a)" "$(role lio-b)" --json)
echo "$j" | grep_q '"pair_offload":false,"pair_reason":"no_provider"' || fail "$j"
blkcopy info /tmp 2>/dev/null && fail "info on a directory succeeded"
out=$(blkcopy info /dev/null 2>&1) && fail "info on /dev/null succeeded"
[[ $out == "blkcopy: "* ]] || fail "no one-line reason: $out"
