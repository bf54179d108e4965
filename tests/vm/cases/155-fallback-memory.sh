# The fallback keeps copying when memory is short: every allocation of
# its buffers' pages fails (the kernel's fail_page_alloc, filtered to the
# copying processes, which step their copies, and to call stacks through
# the function of blkcopy.ko that allocates them), and six copies through
# the host run at once. Each gets a buffer of the fallback's reserve (four, allocated at
# load time: the copies beyond four wait for one to come back) and
# finishes with the right bytes. The fault injector's own count shows the
# allocations it failed; afterwards no job, pool page or reserve buffer is
# left in use.
load_blkcopy
F=/sys/kernel/debug/fail_page_alloc
[[ -d $F ]] || fail "no $F (CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS)"
inject_off() { echo 0 > "$F/probability"; }
trap 'inject_off' EXIT
MB=$((1 << 20))
src=$(role nvme-a) dst=$(role scsi-hd)
for i in 0 1 2 3 4 5; do fill_random "$src" $(((200 + 16 * i) * MB)) $((16 * MB)); done

# The function that allocates the fallback's buffer pages, from its symbol
# to the next one of blkcopy.ko (Buffer::alloc; before it existed, the
# allocation was in CopyJob::plan_fallback, inlined into step).
syms=$(grep -E ' [tT] .*\[blkcopy\]$' /proc/kallsyms | sort)
for pat in 'fallback_mem.*6Buffer5alloc$' '7CopyJob13plan_fallback$' '7CopyJob4step$'; do
  read -r base name < <(awk -v p="$pat" '$3 ~ p { print $1, $3; exit }' <<< "$syms") || true
  [[ -n ${base:-} ]] && break
done
[[ -n ${base:-} ]] || fail "no symbol of the fallback's buffer allocation in /proc/kallsyms"
end=$(awk -v b="$base" 'f { print $1; exit } $1 == b { f = 1 }' <<< "$syms")
[[ -n $end ]] || fail "no symbol after $name"
note "failing page allocations from $name (0x$base..0x$end)"
echo 0 > "$F/verbose"
echo N > "$F/ignore-gfp-wait"
echo N > "$F/ignore-gfp-highmem"
echo 0 > "$F/min-order"
echo Y > "$F/task-filter"
echo 0 > "$F/space"
echo 1 > "$F/interval"
echo "0x$base" > "$F/require-start"
echo "0x$end" > "$F/require-end"
echo 1000000 > "$F/times"
taken0=$(grep -o 'reserve_taken=[0-9]*' "$POOL" | cut -d= -f2 || true)
echo 100 > "$F/probability"
pids=()
for i in 0 1 2 3 4 5; do
  ( echo 1 > /proc/self/make-it-fail; exec blkcopy copy "$src" "$dst" --no-offload --src-offset $(((200 + 16 * i) * MB)) --dst-offset $(((300 + 16 * i) * MB)) \
    --length $((16 * MB)) --json ) > "/tmp/mem-$i.json" 2>&1 &
  pids+=($!)
done
for i in 0 1 2 3 4 5; do
  wait "${pids[i]}" || fail "copy $i under failing page allocations: $(cat "/tmp/mem-$i.json")"
done
inject_off
failed=$((1000000 - $(cat "$F/times")))
taken=$(($(pool_field reserve_taken) - ${taken0:-0}))
note "page allocations failed by the injector: $failed; reserve buffers taken: $taken"
((failed > 0)) || fail "the injector failed no allocation: not a memory-shortage test"
((taken >= 6)) || fail "the reserve carried $taken copies, want every one of the 6"
for i in 0 1 2 3 4 5; do
  assert_same "$src" $(((200 + 16 * i) * MB)) "$dst" $(((300 + 16 * i) * MB)) $((16 * MB))
done
assert_pool_drained
