#!/usr/bin/env bash
# Host tests of the VM harness's evidence checkers (tests/vm/*-check.awk)
# and case selection (tests/vm/select.sh): each must fail on what it exists
# to catch. Run by scripts/test.sh; prints "PASS|FAIL harness:<name>".
# The checkers run under busybox awk, as in the guest.
set -uo pipefail
cd "$(dirname "$0")/../.."
AWK=(busybox awk)
pass=0 failn=0
t() {  # <name> <want: ok|fail> <expected output regex> <awk args...>
  local name=$1 want=$2 re=$3 out rc=0; shift 3
  out=$("${AWK[@]}" "$@" 2>&1) || rc=$?
  if { [[ $want == ok ]] && ((rc == 0)); } || { [[ $want == fail ]] && ((rc != 0)); }; then
    if grep -qE -- "$re" <<< "$out"; then echo "PASS harness:$name"; pass=$((pass + 1)); return; fi
  fi
  echo "FAIL harness:$name (rc $rc: $out)"; failn=$((failn + 1))
}
nv=$(mktemp); lio=$(mktemp); trap 'rm -f "$nv" "$lio"' EXIT
cat > "$nv" <<'T'
pci_nvme_copy cid 12 nsid 1 nr 2 format 0x0
pci_nvme_copy_source_range slba 0x800 nlb 8
pci_nvme_copy_out slba 0xa000 nlb 8
pci_nvme_enqueue_req_completion cid 12 cqid 1 dw0 0x0 dw1 0x0 status 0x0
pci_nvme_copy_source_range slba 0x808 nlb 8
pci_nvme_copy_out slba 0xa008 nlb 8
T
N=tests/vm/nvme-trace-check.awk P=tests/vm/copy-pairs.awk
t nvme-exact ok '1 commands, 2 source ranges, 16 blocks' -v pieces="1 2048 1 40960 16" -f $P -f $N "$nv"
t nvme-two-pieces ok '16 blocks' -v pieces="$(printf '1 2048 1 40960 8\n1 2056 1 40968 8')" -f $P -f $N "$nv"
t nvme-dest-one-block-off fail 'outside the expected destination' -v pieces="1 2048 1 40961 16" -f $P -f $N "$nv"
t nvme-source-one-block-off fail 'written with no read of 2049 8' -v pieces="1 2049 1 40960 16" -f $P -f $N "$nv"
t nvme-more-expected fail '16 blocks written, 17 expected' -v pieces="1 2048 1 40960 17" -f $P -f $N "$nv"
t nvme-other-namespace fail 'Copy command on nsid 1' -v pieces="2 2048 2 40960 16" -f $P -f $N "$nv"
t nvme-nothing fail "no Copy command in QEMU's trace" -v pieces="1 2048 1 40960 16" -f $P -f $N /dev/null
t nvme-blocks-in-all ok '16 blocks' -v pieces="1 0 1 38912 65536" -v blocks_in_all=16 -f $P -f $N "$nv"
t nvme-blocks-in-all-short fail '16 blocks written, 24 expected' -v pieces="1 0 1 38912 65536" -v blocks_in_all=24 -f $P -f $N "$nv"
{ echo 'pci_nvme_copy cid 3 nsid 1 nr 1 format 0xf'; echo 'pci_nvme_err_copy_invalid_format format 0xf'; cat "$nv"; } > "$nv.rej"
t nvme-rejected-allowed ok '16 blocks' -v pieces="1 2048 1 40960 16" -v rejected=1 -f $P -f $N "$nv.rej"
t nvme-rejected-unexpected fail 'descriptor format 0xf' -v pieces="1 2048 1 40960 16" -f $P -f $N "$nv.rej"
{ cat "$nv"; echo 'pci_nvme_copy_out slba 0xa000 nlb 8'; } > "$nv.twice"
t nvme-written-twice fail 'with no read of|written twice' -v pieces="1 2048 1 40960 16" -f $P -f $N "$nv.twice"
rm -f "$nv.rej" "$nv.twice"
cat > "$lio" <<'T'
# tracer: nop
# entries-in-buffer/entries-written: 6/6   #P:2
 <...>-88 [000] ..... 1.0: target_sequencer_start: naa.50014050b1c0c0d2 -> LUN 001 tag 0x1 0x83 data_length     80  CDB 83 00 00 00 00 00 00 00 00 00 00 00 00 50 00 00  (TA:SIMPLE C:00)
 kworker/0:1-12 [000] ..... 1.1: target_sequencer_start:  -> LUN 000 tag 0x0 READ_16 data_length   4096  CDB 88 00 00 00 00 00 00 00 00 10 00 00 00 08 00 00  (TA:SIMPLE C:00)
 kworker/0:1-12 [000] ..... 1.1: target_cmd_complete:  <- LUN 000 tag 0x0 status GOOD (sense len 0)  READ_16 data_length   4096  CDB 88 00 00 00 00 00 00 00 00 10 00 00 00 08 00 00  (TA:SIMPLE C:00)
 kworker/0:1-12 [000] ..... 1.2: target_sequencer_start:  -> LUN 000 tag 0x0 WRITE_16 data_length   4096  CDB 8a 00 00 00 00 00 00 00 01 10 00 00 00 08 00 00  (TA:SIMPLE C:00)
 kworker/0:1-12 [000] ..... 1.2: target_cmd_complete:  <- LUN 000 tag 0x0 status GOOD (sense len 0)  WRITE_16 data_length   4096  CDB 8a 00 00 00 00 00 00 00 01 10 00 00 00 08 00 00  (TA:SIMPLE C:00)
 <...>-88 [000] ..... 1.3: target_cmd_complete: naa.50014050b1c0c0d2 <- LUN 001 tag 0x1 status GOOD (sense len 0)  0x83 data_length     80  CDB 83 00 00 00 00 00 00 00 00 00 00 00 00 50 00 00  (TA:SIMPLE C:00)
T
L=tests/vm/lio-trace-check.awk
t lio-exact ok '1 EXTENDED COPY, 1 reads, 1 writes, 8 blocks' -v pieces="0 16 1 272 8" -f $P -f $L "$lio"
t lio-dest-one-block-off fail 'outside the expected destination' -v pieces="0 16 1 273 8" -f $P -f $L "$lio"
t lio-source-one-block-off fail 'written with no read of 17 8' -v pieces="0 17 1 272 8" -f $P -f $L "$lio"
t lio-wrong-lun fail 'sent to LUN 1' -v pieces="0 16 0 272 8" -f $P -f $L "$lio"
t lio-nothing fail 'no EXTENDED COPY' -v pieces="0 16 1 272 8" -f $P -f $L /dev/null
sed 's/status GOOD (sense len 0)  0x83/status CHECK_CONDITION (sense len 18)  0x83/' "$lio" > "$lio.bad"
t lio-not-good fail 'not GOOD' -v pieces="0 16 1 272 8" -f $P -f $L "$lio.bad"
rm -f "$lio.bad"
# Case selection: comma-separated parts of names; nothing for a miss.
. tests/vm/select.sh
s=$(select_cases "210-,410-" | tr '\n' ' ')
if [[ $s == "tests/vm/cases/210-nvme-offload.sh tests/vm/cases/410-dm-copy.sh " ]]; then echo "PASS harness:select-patterns"; pass=$((pass + 1)); else echo "FAIL harness:select-patterns ($s)"; failn=$((failn + 1)); fi
s=$(select_cases "no-such-case")
if [[ -z $s ]]; then echo "PASS harness:select-none"; pass=$((pass + 1)); else echo "FAIL harness:select-none ($s)"; failn=$((failn + 1)); fi
n=$(select_cases "" | wc -l); m=$(ls tests/vm/cases/*.sh | wc -l)
if ((n == m)); then echo "PASS harness:select-all"; pass=$((pass + 1)); else echo "FAIL harness:select-all ($n of $m)"; failn=$((failn + 1)); fi
# lib.sh's copy_loop_verify_pending in a case's strict mode (errexit and the
# ERR trap): a log without a pending copy is nothing to verify (it failed
# the case once: read returns 1 at end of input); a pending copy is compared.
vp() {  # <log text> -> what the helper did, and its exit status
  local d; d=$(mktemp -d)
  printf '%b' "$1" > "$d/log"
  bash -c 'source tests/vm/lib.sh; SRC=$PWD
    assert_same() { echo "compared $*"; }; note() { :; }
    case_begin "$1/fails" "$1/done" "$1/skip"
    copy_loop_verify_pending "$1/log" /dev/a /dev/b 4096 8192; echo went-on' _ "$d" 2>&1
  echo "rc $?"; rm -rf "$d"
}
s=$(vp 'ok 1\nerror 8 rc=1\n')
if [[ $s == $'went-on\nrc 0' ]]; then echo "PASS harness:verify-pending-none"; pass=$((pass + 1)); else echo "FAIL harness:verify-pending-none ($s)"; failn=$((failn + 1)); fi
s=$(vp 'ok 1\npending 3 12288\n')
if [[ $s == $'compared /dev/a 12288 /dev/b 8192 4096\nwent-on\nrc 0' ]]; then echo "PASS harness:verify-pending-one"; pass=$((pass + 1)); else echo "FAIL harness:verify-pending-one ($s)"; failn=$((failn + 1)); fi
# lib.sh's bench_turns: every mode once per repetition, the order rotating.
s=$(bash -c 'source tests/vm/lib.sh; run() { echo "$1.$2.$3" >> "$0.order"; echo 1$3; }
  bench_turns 3 lbl "run x" a b c; cat "$0.order"; rm -f "$0.order"' "$(mktemp -u)" 2>&1)
want=$'  lbl a: MiB/s 10 11 12 \n  lbl b: MiB/s 10 11 12 \n  lbl c: MiB/s 10 11 12 \nx.a.0\nx.b.0\nx.c.0\nx.b.1\nx.c.1\nx.a.1\nx.c.2\nx.a.2\nx.b.2'
if [[ $s == "$want" ]]; then echo "PASS harness:bench-turns"; pass=$((pass + 1)); else echo "FAIL harness:bench-turns ($s)"; failn=$((failn + 1)); fi
# lib.sh's qmp_entered_after in a case's strict mode (pipefail), under
# busybox awk: a monitor command early in a long trace is found (reading
# stopped at the match once failed 890 in a whole run: tail died of SIGPIPE),
# a later one of another name is not taken for it, and none is an error.
qe() {  # <command name> -> the offset found, or "none"
  local t; t=$(mktemp)
  { echo 'pci_nvme_copy cid 1 nsid 1 nr 1 format 0x0'; echo 'qmp_enter_device_del {"id": "nvme2"}'
    seq 200000 | sed 's/.*/pci_nvme_enqueue_req_completion cid & cqid 1 dw0 0x0 dw1 0x0 status 0x0/'
    echo 'qmp_enter_query_status {}'; } > "$t"
  bash -c 'source tests/vm/lib.sh; awk() { busybox awk "$@"; }; NVME_TRACE=$0
    set -o pipefail; qmp_entered_after 0 "$1" || echo none' "$t" "$1" 2>&1
  rm -f "$t"
}
s=$(qe device_del)
if [[ $s == 43 ]]; then echo "PASS harness:qmp-entered-early"; pass=$((pass + 1)); else echo "FAIL harness:qmp-entered-early ($s)"; failn=$((failn + 1)); fi
s=$(qe no-such-command)
if [[ $s == none ]]; then echo "PASS harness:qmp-entered-none"; pass=$((pass + 1)); else echo "FAIL harness:qmp-entered-none ($s)"; failn=$((failn + 1)); fi
# lib.sh's lio_inflight_through and nvme_inflight_through in a case's strict
# mode (pipefail), under busybox awk, with a long trace after the second
# mark: stopping reading at that mark killed the trace's writer with SIGPIPE
# (930 failed in a whole run: "no marker array-stop-1").
lt() {  # -> the tags found, or "none"
  local t; t=$(mktemp)
  { echo '# entries-in-buffer/entries-written: 200004/200004   #P:2'
    echo ' <...>-88 [000] ..... 1.0: target_sequencer_start: naa.5001 -> LUN 001 tag 0x1 0x83 data_length     80  CDB 83 00 00'
    echo ' bash-1 [000] ..... 1.1: tracing_mark_write: fault-1'
    echo ' bash-1 [000] ..... 1.2: tracing_mark_write: fault-2'
    seq 200000 | sed 's/.*/ kworker-12 [000] ..... 1.3: target_sequencer_start:  -> LUN 000 tag 0x& READ_16 data_length 4096  CDB 88 00/'
    echo ' <...>-88 [000] ..... 1.9: target_cmd_complete: naa.5001 <- LUN 001 tag 0x1 status GOOD (sense len 0)  0x83 data_length     80  CDB 83 00 00'; } > "$t"
  bash -c 'source tests/vm/lib.sh; awk() { busybox awk "$@"; }; TRACEFS=$(dirname "$0"); cp "$0" "$TRACEFS/trace"
    set -o pipefail; lio_inflight_through fault-1 fault-2 || echo none; rm -f "$TRACEFS/trace"' "$t" 2>&1
  rm -f "$t"
}
s=$(lt)
if [[ $s == 0x1 ]]; then echo "PASS harness:lio-through-long-trace"; pass=$((pass + 1)); else echo "FAIL harness:lio-through-long-trace ($s)"; failn=$((failn + 1)); fi
nt() {  # -> the cids found, or "none"
  local t m1 m2; t=$(mktemp)
  { echo 'pci_nvme_copy cid 7 nsid 1 nr 1 format 0x0'; echo 'qmp_enter_query_status {}'; } > "$t"; m1=$(stat -c %s "$t")
  echo 'qmp_enter_query_status {}' >> "$t"; m2=$(stat -c %s "$t")
  { seq 200000 | sed 's/.*/pci_nvme_enqueue_req_completion cid & cqid 1 dw0 0x0 dw1 0x0 status 0x0/'
    echo 'pci_nvme_enqueue_req_completion cid 7 cqid 1 dw0 0x0 dw1 0x0 status 0x0'; } >> "$t"
  bash -c 'source tests/vm/lib.sh; awk() { busybox awk "$@"; }; NVME_TRACE=$0
    set -o pipefail; nvme_inflight_through 0 "$1" "$2" || echo none' "$t" "$m1" "$m2" 2>&1
  rm -f "$t"
}
s=$(nt)
if [[ $s == 7 ]]; then echo "PASS harness:nvme-through-long-trace"; pass=$((pass + 1)); else echo "FAIL harness:nvme-through-long-trace ($s)"; failn=$((failn + 1)); fi
((failn == 0))
