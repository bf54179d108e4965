# Checks LIO's tracepoints (target:target_sequencer_start and
# target:target_cmd_complete, one copy's worth) against what the test
# computed (tests/vm/lib.sh lio_expect_copied); loaded after
# copy-pairs.awk, whose pieces are "lun slba dst-lun dlba nblocks". It
# passes only if the initiator sent EXTENDED COPY (opcode 83h) to the LUN
# of a destination and every one completed GOOD, and the copy manager's
# own READ(16)s and WRITE(16)s (commands without an initiator name) all
# completed GOOD and pair up as copy-pairs.awk requires. Prints "N EXTENDED
# COPY, N reads, N writes, N blocks"; exits 1 with the reason.
function hex(s,    i, v) {
  v = 0; s = tolower(s)
  for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
  return v
}
# The command's CDB bytes (16, hex) into C[1..16]; its initiator and LUN.
function parse(line,    p, rest, i) {
  p = index(line, "CDB "); rest = substr(line, p + 4)
  for (i = 1; i <= 16; i++) C[i] = hex(substr(rest, 3 * i - 2, 2))
  rest = substr(line, index(line, ": target_") + 1)
  sub(/^ *target_[a-z_]+: /, "", rest)
  INI = substr(rest, 1, index(rest, " ") - 1)
  if (substr(rest, 1, 1) == " ") INI = ""
  match(line, /LUN [0-9]+/); LUN = substr(line, RSTART + 4, RLENGTH - 4) + 0
}
# READ(16)/WRITE(16): LBA in CDB bytes 2-9, blocks in bytes 10-13.
function be(from, to,    i, v) { v = 0; for (i = from; i <= to; i++) v = v * 256 + C[i]; return v }
BEGIN {
  pieces_load(pieces)
  for (j = 1; j <= k; j++) dst_lun[pb[j] + 0] = 1
}
/target_sequencer_start: / {
  parse($0)
  if (C[1] == 131 && INI != "") {
    xc++
    if (!(LUN in dst_lun)) why("EXTENDED COPY sent to LUN " LUN ", not a destination's")
  } else if (C[1] == 136 && INI == "") source_read(be(3, 10), be(11, 14))
  else if (C[1] == 138 && INI == "") dest_written(be(3, 10), be(11, 14))
}
/target_cmd_complete: / {
  parse($0)
  if ((C[1] == 131 && INI != "") || ((C[1] == 136 || C[1] == 138) && INI == "")) {
    if ($0 !~ /status GOOD/) why("command not GOOD: " $0)
    if (C[1] == 131) xdone++
  }
}
END {
  if (xc == 0) why("no EXTENDED COPY in LIO's trace")
  if (xdone != xc) why(xc " EXTENDED COPY sent, " xdone " completed")
  pairs_end()
  if (bad != "") { print bad; exit 1 }
  printf "%d EXTENDED COPY, %d reads, %d writes, %d blocks\n", xc, nreads, nw, blocks
}
