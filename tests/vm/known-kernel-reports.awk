# Drops, from a kernel log on stdin or in a file, the reports the test
# kernel makes by itself, without blkcopy, so that checking the log for
# warnings (tests/vm/guest.sh after each test, scripts/test.sh over the
# whole log) fails on blkcopy's reports only. Every other line passes.
# A block is dropped only when it matches a known report entirely and does
# not mention blkcopy.
#
# Known reports:
# - 6.12.117 pciehp, lockdep (debug kernel): "possible circular locking
#   dependency" between pci_rescan_remove_lock and the slot's reset_lock
#   in pciehp_unconfigure_device() on every hot-removal; the same report
#   appears when a controller is removed with no blkcopy module loaded.
#   Lockdep turns itself off after it, so the test that removes a
#   controller runs last (tests/vm/cases/890-fault-nvme-removal.sh).
# - 6.12.117 block layer, lockdep (debug kernel): "possible circular
#   locking dependency" when a SCSI disk is removed (sd_remove ->
#   del_gendisk -> bdi_unregister flushing the writeback work, with the
#   queue's q_usage_counter held) after the writeback worker once wrote a
#   block device's page cache to a blk-mq disk (q_usage_counter(io)), via
#   the NVMe scan's limits_lock. Reproduced on 2026-12-01 with no blkcopy
#   module loaded: buffered writes to nvme-b and lio-b, 8 s for background
#   writeback, then the LIO LUN unlink 830-fault-lio-unlink does.

function flush(    i, known) {
  known = (blk ~ /irq\/[0-9]+-pciehp\/[0-9]+ is trying to acquire lock/ &&
           blk ~ /&ctrl->reset_lock/ && blk ~ /pci_rescan_remove_lock/ &&
           blk !~ /blkcopy/) ||
          (blk ~ /\(work_completion\)\(&\(&wb->dwork\)->work\)/ &&
           blk ~ /q_usage_counter\(queue\)/ && blk ~ /bdi_unregister/ &&
           blk ~ /sd_remove/ && blk ~ /wb_workfn/ && blk !~ /blkcopy/)
  if (!known)
    for (i = 0; i < n; i++) print line[i]
  inblk = 0; n = 0; blk = ""
}
/WARNING: possible circular locking dependency detected/ { if (inblk) flush(); inblk = 1 }
inblk {
  line[n++] = $0; blk = blk "\n" $0
  if ($0 ~ /<\/TASK>/) flush()
  next
}
{ print }
END { if (inblk) for (i = 0; i < n; i++) print line[i] }
