# A path of a multipath head going away mid-copy. nvme-mp's namespace is
# shared by two controllers of one subsystem (QEMU nvme1 and nvme3, each
# behind its own hot-pluggable root port), so its head /dev/nvmeXnY has two
# paths. Two 64 MiB copies on the head (offloaded as NVMe Copy through the
# path the provider chose, at most 4 MiB of Copy in flight, the image
# throttled to 8 MiB/s) are running when device_del takes away the
# controller their commands were set up on.
# Evidence from outside blkcopy: the nvme driver's own tracepoints
# (nvme_setup_cmd: the controller each Copy, opcode 0x19, was set up on)
# name the controller removed, and QEMU's trace shows Copy commands
# submitted and not completed when the monitor began device_del. Every copy
# returns, completed (its bytes compared) or with an error; the sources and
# the bytes around the destinations are unchanged; nothing is left in the
# pool. The controller is added back into the subsystem (the head regains
# its second path) and a copy is offloaded again, to exactly its blocks.
unload_providers
load_blkcopy
insmod "$BLKCOPY_NVME_KO" max_copy_mib=4 || fail "insmod blkcopy_nvme max_copy_mib=4"
T=/sys/kernel/tracing
[[ -d $T/events/nvme ]] || T=/sys/kernel/debug/tracing
[[ -d $T/events/nvme ]] || fail "no nvme tracepoints"
ntrace() { echo "$1" > "$T/events/nvme/nvme_setup_cmd/enable" && echo "$1" > "$T/events/nvme/nvme_complete_rq/enable"; }
trap 'ntrace 0; throttle_group mp-throttle; wait || true; unload_providers' EXIT
m=$(role nvme-mp)
mn=$(basename "$m")
# The head's paths (hidden disks nvmeXcYnZ): counted from the glob, which a
# path removed meanwhile cannot fail (ls of a name gone since would).
paths() { local p c=0; for p in /sys/block/"${mn%n*}"c*n"${mn##*n}"; do [[ -e $p ]] && c=$((c + 1)); done; echo "$c"; }
(($(paths) == 2)) || fail "$m has $(paths) paths, want 2"
# The QEMU id of guest controller nvme<K>: its root port's slot (scripts/vm.sh).
qdev_of_ctrl() {
  local pci s
  pci=$(basename "$(readlink -f "/sys/class/nvme/nvme$1/device")")
  for s in /sys/bus/pci/slots/*; do
    [[ $(cat "$s/address") == "${pci%.*}" ]] || continue
    case $(basename "$s") in 2) echo nvme1 ;; 3) echo nvme3 ;; *) fail "nvme$1 in slot $(basename "$s")" ;; esac
    return 0
  done
  fail "nvme$1 ($pci) is in no hot-plug slot"
}
root_port() { case $1 in nvme1) echo rp-mp1 ;; nvme3) echo rp-mp3 ;; esac; }
# Controllers (guest numbers) Copy commands were set up on in the guest's
# trace between its markers <from> and <to> (empty: the end).
copy_ctrls() {  # <from marker> [<to marker>]
  awk -v from="$1" -v to="${2:-}" '
    index($0, from) { on = 1; next }
    to != "" && index($0, to) { on = 0 }
    on && /nvme_setup_cmd: nvme[0-9]+:/ && /cmd=\(0x19 / { sub(/.*nvme_setup_cmd: nvme/, ""); sub(/:.*/, ""); n[$0]++ }
    END { for (c in n) print c, n[c] }' "$T/trace"
}

M=$((1 << 20)) L=$((64 << 20)) D1=$((192 << 20)) D2=$((320 << 20))
fill_random "$m" 0 $((2 * L))
fill_random "$m" $((D1 - 8 * M)) $((8 * M))
fill_random "$m" $((D1 + L)) $((D2 - D1 - L))
fill_random "$m" $((D2 + L)) $((8 * M))
src_sum=$(digest "$m" 0 $((2 * L)))
save_bytes "$m" $((D1 - 8 * M)) $((8 * M)) /tmp/mp-below
save_bytes "$m" $((D1 + L)) $((D2 - D1 - L)) /tmp/mp-between
save_bytes "$m" $((D2 + L)) $((8 * M)) /tmp/mp-above

# The fault.
echo > "$T/trace"
ntrace 1
echo "blkcopy-mark start" > "$T/trace_marker"
throttle_group mp-throttle '"bps-total":8388608'
m0=$(trace_mark)
copy_bg /tmp/mp1 "$m" "$L" "$D1" "$L"
copy_bg /tmp/mp2 "$m" 0 "$D2" "$L"
for ((i = 0; i < 300; i++)); do (( $(trace_copies "$m0") >= 2 )) && break; sleep 0.1; done
used=$(copy_ctrls "blkcopy-mark start")
[[ -n $used ]] || fail "no Copy command in the nvme driver's trace"
(($(wc -l <<< "$used") == 1)) || fail "Copy commands set up on more than one controller before the fault: $used"
k=${used%% *} id=$(qdev_of_ctrl "${used%% *}")
echo "blkcopy-mark device_del" > "$T/trace_marker"
at=$(qmp_mark "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"$id\"}}")
inflight=$(nvme_inflight_at "$m0" "$at")
[[ -n $inflight ]] || fail "no Copy command was in flight when device_del began (trace lines $m0..$at)"
for ((i = 0; i < 300; i++)); do (($(paths) == 1)) && break; sleep 0.1; done
(($(paths) == 1)) || fail "path through nvme$k still present 30 s after device_del"
echo "blkcopy-mark path gone" > "$T/trace_marker"
copy_bg_wait 130 /tmp/mp1 /tmp/mp2
wait
throttle_group mp-throttle
ntrace 0
rc1=$(cat /tmp/mp1.rc) rc2=$(cat /tmp/mp2.rc)
((rc1 != 124 && rc2 != 124)) || fail "a copy hung: rc $rc1, $rc2"
note "device_del of $id (guest nvme$k, whose path carried every Copy so far: $used) began with $(echo "$inflight" | wc -l) Copy commands in flight (cids $(echo $inflight)); they ended: $(nvme_ending_after "$at" $inflight | tr '\n' ' ')"
note "Copy commands set up during the removal (controller count): $(copy_ctrls "blkcopy-mark device_del" "blkcopy-mark path gone" | tr '\n' ' '); after it: $(copy_ctrls "blkcopy-mark path gone" | tr '\n' ' ')"
if copy_ctrls "blkcopy-mark path gone" | grep_q "^$k "; then fail "Copy commands set up on nvme$k after its path was gone"; fi
note "copy 1: rc $rc1 $(tr '\n' ' ' < /tmp/mp1.out); copy 2: rc $rc2 $(tr '\n' ' ' < /tmp/mp2.out)"
assert_pool_drained
[[ $(digest "$m" 0 $((2 * L))) == "$src_sum" ]] || fail "sources changed"
assert_file_same /tmp/mp-below "$m" $((D1 - 8 * M)) $((8 * M))
assert_file_same /tmp/mp-between "$m" $((D1 + L)) $((D2 - D1 - L))
assert_file_same /tmp/mp-above "$m" $((D2 + L)) $((8 * M))
# Every copy that reported success has its bytes.
if ((rc1 == 0)); then assert_same "$m" "$L" "$m" "$D1" "$L"; fi
if ((rc2 == 0)); then assert_same "$m" 0 "$m" "$D2" "$L"; fi

# Back: the controller added into the subsystem again; two paths.
qmp_wait_deleted "$id"
qmp_ok "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"nvme\",\"id\":\"$id\",\"bus\":\"$(root_port "$id")\",\"serial\":\"blkcopy-nvme1\",\"subsys\":\"subsys0\"}}"
for ((i = 0; i < 300; i++)); do (($(paths) == 2)) && break; sleep 0.1; done
(($(paths) == 2)) || fail "$m has $(paths) paths after device_add, want 2"
copy_checked "$m" "$m" $((16 * M)) $((448 * M)) "$M" "$M"
