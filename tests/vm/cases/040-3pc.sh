# Third-party copy support as the devices report it: scsi-hd has none,
# every LIO LUN has 3PC=1 (it implements EXTENDED COPY).
sg_inq "$(role_sg scsi-hd)" | grep_q '3PC=0' || fail "scsi-hd does not report 3PC=0"
for r in lio-a lio-b lio-4k; do
  sg_inq "$(role_sg "$r")" | grep_q '3PC=1' || fail "$r does not report 3PC=1"
done
