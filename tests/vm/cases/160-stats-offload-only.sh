# Statistics count what the tests did, and --offload-only without a
# provider fails with EOPNOTSUPP leaving the destination unchanged.
load_blkcopy
s=$(role lio-a) d=$(role lio-b)
c0=$(stat_field "$d" copies) e0=$(stat_field "$d" bytes_emulated) n0=$(stat_field "$d" fallback_no_provider)
x0=$(stat_field "$d" fallback_disabled) f0=$(stat_field "$d" failures) sc0=$(stat_field "$s" copies)
o0=$(stat_field "$d" bytes_offloaded)   # earlier cases may have offloaded to it (with a provider)
blkcopy copy "$s" "$d" --length $((3 << 20)) >/dev/null || fail "copy 1"
blkcopy copy "$s" "$d" --src-offset $((4 << 20)) --dst-offset $((8 << 20)) --length $((1 << 20)) --no-offload >/dev/null || fail "copy 2"
fill_random "$d" $((32 << 20)) $((1 << 20))
before=$(digest "$d" $((32 << 20)) $((1 << 20)))
err=$(blkcopy copy "$s" "$d" --dst-offset $((32 << 20)) --length $((1 << 20)) --offload-only 2>&1) && fail "offload-only succeeded without a provider"
[[ $(echo "$err" | wc -l) == 1 && $err == *"cannot be offloaded (offload only)"* ]] || fail "unexpected failure report: $err"
[[ $(digest "$d" $((32 << 20)) $((1 << 20))) == "$before" ]] || fail "offload-only failure changed the destination"
[[ $(stat_field "$d" copies) == $((c0 + 3)) ]] || fail "copies $(stat_field "$d" copies), want $((c0 + 3))"
[[ $(stat_field "$s" copies) == $((sc0 + 3)) ]] || fail "source copies not counted"
[[ $(stat_field "$d" bytes_emulated) == $((e0 + (4 << 20))) ]] || fail "bytes_emulated $(stat_field "$d" bytes_emulated), want $((e0 + (4 << 20)))"
[[ $(stat_field "$d" fallback_no_provider) == $((n0 + (4 << 20))) ]] || fail "fallback_no_provider $(stat_field "$d" fallback_no_provider)"
[[ $(stat_field "$d" fallback_disabled) == $((x0 + (1 << 20))) ]] || fail "fallback_disabled $(stat_field "$d" fallback_disabled)"
[[ $(stat_field "$d" failures) == $((f0 + 1)) ]] || fail "failures $(stat_field "$d" failures)"
[[ $(stat_field "$d" bytes_offloaded) == "$o0" ]] || fail "offloaded without a provider"
blkcopy stats "$d" --json | grep_q '"copies":' || fail "stats --json"
