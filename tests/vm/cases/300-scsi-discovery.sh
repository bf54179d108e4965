# SCSI provider discovery: 3PC, the NAA designator and the copy manager's
# operating parameters, as `blkcopy info` and debugfs show them,
# cross-checked against sg_inq, sg_vpd and sg_copy_results.
load_scsi_provider
trap unload_providers EXIT
for r in lio-a lio-b lio-4k; do
  d=$(role "$r") sg=$(role_sg "$r")
  j=$(blkcopy info "$d" --json) || fail "info $r"
  echo "$j" | grep_q '"provider":"scsi"' || fail "$r not claimed: $j"
  bs=$(lbs "$d")
  p=$(sg_copy_results --params "$sg")
  seg=$(echo "$p" | sed -n 's/.*Maximum segment length: *\([0-9]*\).*/\1/p')
  nseg=$(echo "$p" | sed -n 's/.*Maximum segment descriptor count: *\([0-9]*\).*/\1/p')
  ntd=$(echo "$p" | sed -n 's/.*Maximum target descriptor count: *\([0-9]*\).*/\1/p')
  per=$((65535 * bs)); ((seg < per)) && per=$((seg / bs * bs))
  [[ $(json_field "$j" max_copy_bytes) == $((per * nseg)) && $(json_field "$j" max_ranges) == "$nseg" ]] ||
    fail "$r limits $j; sg_copy_results: segment $seg, $nseg segments"
  line=$(grep "^disk=$(basename "$d") " /sys/kernel/debug/blkcopy_scsi/luns) || fail "$r not in debugfs"
  [[ $line == *" block_size=$bs 3pc=1 claimed=1 refused=0 "* ]] || fail "$line"
  [[ $line == *" max_cscd=$ntd max_segments=$nseg "*" max_segment_len=$seg "* ]] || fail "debugfs vs sg_copy_results: $line"
  naa=$(echo "$line" | grep -o 'naa=[0-9a-f]*' | cut -d= -f2)
  sg_vpd -p di "$sg" | tr -d ' ' | grep_q -i "0x$naa" || fail "$r NAA $naa not in sg_vpd: $(sg_vpd -p di "$sg")"
  sg_inq "$sg" | grep_q '3PC=1' || fail "$r sg_inq"
  note "$line"
done
j=$(blkcopy info "$(role scsi-hd)" --json)
echo "$j" | grep_q '"provider":"none"' || fail "scsi-hd claimed: $j"
grep -q "^disk=$(basename "$(role scsi-hd)") .* 3pc=0 claimed=0" /sys/kernel/debug/blkcopy_scsi/luns || fail "scsi-hd not seen as 3PC=0"
j=$(blkcopy info "$(role lio-a)" "$(role lio-b)" --json)
echo "$j" | grep_q '"pair_offload":true' || fail "lio-a -> lio-b: $j"
j=$(blkcopy info "$(role lio-a)" "$(role lio-4k)" --json)
echo "$j" | grep_q '"pair_offload":false,"pair_reason":"block_size"' || fail "lio-a -> lio-4k: $j"
j=$(blkcopy info "$(role scsi-hd)" "$(role lio-a)" --json)
echo "$j" | grep_q '"pair_reason":"no_provider"' || fail "scsi-hd -> lio-a: $j"
