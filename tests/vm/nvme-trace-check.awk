# Checks QEMU's NVMe Copy trace (pci_nvme_copy*, one copy's worth) against
# what the test computed (tests/vm/lib.sh nvme_expect_copied); loaded after
# copy-pairs.awk, whose pieces are "nsid slba dst-nsid dlba nlb" (blocks of
# the namespace). -v rejected=N: N commands were sent with an invalid
# descriptor format (fault injection) and rejected; -v blocks_in_all=N: the
# pieces only bound where copies may go, and N blocks were copied in all.
# It passes only if every Copy command is on a destination namespace of the
# pieces, in descriptor format 0h when its pieces are within that
# namespace and 2h when they come from another namespace of the
# controller (one source namespace per destination namespace: QEMU's trace
# does not name a range's source namespace, which tests show by the bytes:
# tests/vm/cases/240-*), no error event was traced, and the
# ranges it read (pci_nvme_copy_source_range) and wrote out
# (pci_nvme_copy_out, traced per source range after it was read) pair up
# as copy-pairs.awk requires. Prints "N commands, N source ranges, N
# blocks"; exits 1 with the reason.
function hex(s,    i, v) {
  v = 0; s = tolower(s); sub(/^0x/, "", s)
  for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
  return v
}
BEGIN {
  pieces_load(pieces)
  for (j = 1; j <= k; j++) {
    f = (pa[j] == pb[j]) ? "0x0" : "0x2"
    if ((pb[j] in fmt) && fmt[pb[j]] != f) why("pieces into namespace " pb[j] " from itself and from another namespace")
    if ((pb[j] in src_ns) && src_ns[pb[j]] != pa[j]) why("pieces into namespace " pb[j] " from two other namespaces")
    fmt[pb[j]] = f; src_ns[pb[j]] = pa[j]
  }
  if (blocks_in_all != "") total = blocks_in_all + 0
}
/^pci_nvme_err_copy_invalid_format/ && rejected_seen <= rejected + 0 { next }
/^pci_nvme_err/ { why("error event: " $0) }
$1 == "pci_nvme_copy" {
  if (!($5 in fmt)) why("Copy command on nsid " $5 ": " $0)
  if ($9 != fmt[$5]) { if (++rejected_seen > rejected + 0) why("descriptor format " $9 ", want " fmt[$5] ": " $0); next }
  cmds++; declared += $7
}
$1 == "pci_nvme_copy_source_range" { source_read(hex($3), $5 + 0) }
$1 == "pci_nvme_copy_out" { dest_written(hex($3), $5 + 0) }
END {
  if (cmds == 0) why("no Copy command in QEMU's trace")
  if (rejected_seen != rejected + 0) why(rejected_seen " commands rejected, " (rejected + 0) " expected")
  if (declared != nreads) why(declared " source ranges declared by the commands, " nreads " traced")
  pairs_end()
  if (bad != "") { print bad; exit 1 }
  printf "%d commands, %d source ranges, %d blocks\n", cmds, nreads, blocks
}
