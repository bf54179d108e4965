# NVMe provider discovery: per namespace ONCS Copy bit, MSSRL, MCL, MSRC,
# copy formats (OCFS) and block size, as `blkcopy info` and debugfs show them,
# cross-checked against nvme-cli's id-ctrl and id-ns.
load_nvme_provider
trap unload_providers EXIT
oncs=$(nvme id-ctrl /dev/role/nvme-ctrl | awk '/^oncs/ {print $3}')
for r in nvme-a nvme-4k nvme-small; do
  d=$(role "$r")
  idns=$(nvme id-ns "$d")
  f() { echo "$idns" | awk -v k="$1" '$1 == k {print $3}'; }
  mssrl=$(f mssrl) mcl=$(f mcl) msrc=$(f msrc) lbs=$(lbs "$d")
  j=$(blkcopy info "$d" --json) || fail "info $r"
  echo "$j" | grep_q '"provider":"nvme"' || fail "$r not claimed: $j"
  [[ $(json_field "$j" max_copy_bytes) == $((mcl * lbs)) ]] || fail "$r max_copy_bytes $(json_field "$j" max_copy_bytes), id-ns mcl $mcl x $lbs"
  [[ $(json_field "$j" max_ranges) == $((msrc + 1)) ]] || fail "$r max_ranges $(json_field "$j" max_ranges), id-ns msrc $msrc"
  line=$(grep "^disk=$(basename "$d") " /sys/kernel/debug/blkcopy_nvme/namespaces) || fail "$r not in debugfs"
  [[ $line == *" lba_size=$lbs oncs=$(printf '%#x' "$oncs") copy=1 "* ]] || fail "debugfs: $line (oncs $oncs)"
  [[ $line == *" mssrl=$mssrl mcl=$mcl msrc=$msrc" ]] || fail "debugfs: $line, id-ns $mssrl $mcl $msrc"
  note "$line"
done
j=$(blkcopy info "$(role nvme-a)" "$(role nvme-a)" --json)
echo "$j" | grep_q '"pair_offload":true' || fail "same namespace not offloadable: $j"
# Between namespaces of the controller: offloadable exactly when it has
# descriptor format 2h (OCFS bit 2) and their LBA sizes match.
ocfs=$(nvme id-ctrl /dev/role/nvme-ctrl | awk '/^ocfs/ {print $3}')
j=$(blkcopy info "$(role nvme-a)" "$(role nvme-b)" --json)
if (( ocfs & 4 )); then want='"pair_offload":true'; else want='"pair_offload":false,"pair_reason":"cross_device"'; fi
echo "$j" | grep_q "$want" || fail "cross namespace (OCFS $ocfs): $j"
j=$(blkcopy info "$(role nvme-a)" "$(role nvme-4k)" --json)
echo "$j" | grep_q '"pair_offload":false' || fail "namespaces of different LBA sizes: $j"
# A multipath head (the namespace of a controller in a subsystem) is
# claimed: its copies go to a usable path (tests/vm/cases/250-*).
j=$(blkcopy info "$(role nvme-mp)" --json)
echo "$j" | grep_q '"provider":"nvme"' || fail "multipath head not claimed: $j"
