# The benchmark's measuring tool (blkcopy-bench) copies what it claims, in
# every mode (uring: from one thread, 4 in flight on an io_uring ring;
# latency-pair: BLKCOPY and the ring by turns), and its counters agree
# with the devices': offload on NVMe moves no data through the host and
# is traced by QEMU; the fallback and the userspace copy move every byte
# twice (read + write); raw NVMe Copy and raw EXTENDED COPY send the
# commands the limits imply.
load_nvme_provider
load_scsi_provider
trap 'unload_providers' EXIT
a=$(role nvme-a) la=$(role lio-a)
M=$((1 << 20))
field() { echo "$1" | grep -o "\"$2\":[0-9.]*" | cut -d: -f2; }
run() {  # mode dev size copies jobs|queue-depth src-off dst-off
  local par=(--jobs "$5")
  [[ $1 == uring ]] && par=(--queue-depth "$5")
  fill_random "$2" "$6" $(( $3 * $4 ))
  evidence_begin "$2"
  out=$(blkcopy-bench "$1" "$2" "$2" --size "$3" --copies "$4" "${par[@]}" --src-offset "$6" --dst-offset "$7") ||
    fail "blkcopy-bench $*"
  # The devices say whether they copied: exactly these blocks, or nothing.
  case $1 in
    offload|uring|latency-pair|nvme-raw|sg-raw) expect_offloaded "$2" "$6" "$2" "$7" $(( $3 * $4 )) ;;
    *) expect_not_offloaded ;;
  esac
  assert_same "$2" "$6" "$2" "$7" $(( $3 * $4 ))
  [[ $(field "$out" copies) == "$4" && $(field "$out" seconds) != 0.000000 ]] || fail "$1: $out"
}
run offload "$a" $((4 * M)) 8 4 $((100 * M)) $((200 * M))
(( $(field "$out" bytes_offloaded) == 32 * M && $(field "$out" host_read_bytes) == 0 && $(field "$out" host_written_bytes) == 0 )) ||
  fail "offload counters: $out"
run uring "$a" $((4 * M)) 8 4 $((100 * M)) $((600 * M))
(( $(field "$out" bytes_offloaded) == 32 * M && $(field "$out" host_read_bytes) == 0 && $(field "$out" queue_depth) == 4 )) ||
  fail "uring counters: $out"
# Alternating BLKCOPY and the ring copy by copy: both halves' latencies.
run latency-pair "$a" $((4 * M)) 8 1 $((100 * M)) $((700 * M))
(( $(field "$out" bytes_offloaded) == 32 * M && $(field "$out" host_read_bytes) == 0 )) || fail "latency-pair counters: $out"
[[ $(field "$out" lat_p50_us) != 0.0 && $(field "$out" sync_lat_p50_us) != 0.0 && -n $(field "$out" sync_lat_p99_us) ]] ||
  fail "latency-pair: not both latencies: $out"
run fallback "$a" $((4 * M)) 8 4 $((100 * M)) $((300 * M))
(( $(field "$out" bytes_offloaded) == 0 && $(field "$out" host_read_bytes) >= 32 * M && $(field "$out" host_written_bytes) >= 32 * M )) ||
  fail "fallback counters: $out"
run userspace "$a" $((4 * M)) 8 2 $((100 * M)) $((400 * M))
(( $(field "$out" host_read_bytes) >= 32 * M && $(field "$out" host_written_bytes) >= 32 * M )) || fail "userspace counters: $out"
# mcl 65536 blocks of 512 B (32 MiB) per command: 64 MiB = 2 commands.
run nvme-raw "$a" $((64 * M)) 1 1 $((100 * M)) $((500 * M))
(( $(field "$out" device_commands) == 2 && $(trace_copies "$EV_MARK") == 2 && $(field "$out" host_read_bytes) == 0 )) ||
  fail "nvme-raw: $out, $(trace_copies "$EV_MARK") traced"
c0=$(scsi_counter commands)
run sg-raw "$la" $((4 * M)) 2 1 $((10 * M)) $((100 * M))
(( $(field "$out" device_commands) == 2 && $(field "$out" host_read_bytes) == 0 && $(field "$out" host_written_bytes) == 0 )) ||
  fail "sg-raw counters: $out"
(( $(scsi_counter commands) == c0 )) || fail "sg-raw went through the provider"
# Bad input: a clear error, non-zero exit.
blkcopy-bench offload "$a" "$a" --size 1000 2>/dev/null && fail "misaligned size accepted"
blkcopy-bench bogus "$a" "$a" --size 4096 2>/dev/null && fail "unknown mode accepted"
true
