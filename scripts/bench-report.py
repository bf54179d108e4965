#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the benchmark's measurements (tests/vm/bench.sh, one JSON object per
line) into markdown: throughput and ratios measured side by side in one VM
run, the targets of the benchmark issue checked, and a PNG plot.

Usage: bench-report.py BENCH.jsonl --accel A --machine M --qemu Q [--png F] [--notes F]
       bench-report.py --net BENCH-NET.jsonl ...    the network part
       bench-report.py --async BENCH-ASYNC.jsonl ... the asynchronous part
"""
import argparse
import datetime
import json
import re
import sys

KINDS = ["nvme", "lio", "scsi-hd"]
KIND_NAME = {"nvme": "NVMe (QEMU nvme-ns, Copy)", "lio": "LIO tcm_loop LUN (EXTENDED COPY)",
             "scsi-hd": "QEMU scsi-hd (no XCOPY)"}
RAW = {"nvme": "nvme-raw", "lio": "sg-raw"}
MODES = ["offload", "fallback", "raw", "userspace"]
# A time-stamped QEMU trace line: "pid@seconds:event cid N ...".
TRACE_RE = re.compile(r"\d+@([\d.]+):(\S+) cid (\d+)")
COLOR = {"offload": "tab:blue", "fallback": "tab:orange", "raw": "tab:green", "userspace": "tab:red"}


def size_name(n):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} B"


def ratio(a, b):
    return a / b if a is not None and b else None


def median(rows, key):
    """The row whose `key` is the median of `rows` (the lower middle one
    for an even count)."""
    rs = sorted(rows, key=lambda r: r[key])
    return rs[(len(rs) - 1) // 2]


def device_time(trace, r):
    """From QEMU's time-stamped NVMe trace, for the lines a measurement
    spanned: (Copy commands, seconds with at least one Copy command in the
    device), or None without stamps."""
    if "trace_from" not in r:
        return None
    start, spans = {}, []
    for line in trace[r["trace_from"]:r["trace_to"]]:
        m = TRACE_RE.match(line)
        if not m:
            continue
        t, ev, cid = float(m.group(1)), m.group(2), m.group(3)
        if ev == "pci_nvme_copy":
            start[cid] = t
        elif ev == "pci_nvme_enqueue_req_completion" and cid in start:
            spans.append((start.pop(cid), t))
    if not spans:
        return None
    busy, end = 0.0, None
    for s0, s1 in sorted(spans):
        if end is None or s0 > end:
            busy += s1 - s0
            end = s1
        elif s1 > end:
            busy += s1 - end
            end = s1
    return len(spans), busy


def reps_text(reps):
    """How many repetitions the figures are medians of: "3 (below 64 MiB)
    and 5 (from 64 MiB)", or one number when all agree."""
    small = {len(rs) for k, rs in reps.items() if k[1] < 64 << 20}
    big = {len(rs) for k, rs in reps.items() if k[1] >= 64 << 20}
    if not small or not big or small == big:
        return counts_text(small | big)
    return f"{counts_text(small)} (below 64 MiB) and {counts_text(big)} (from 64 MiB)"


def counts_text(counts):
    """A set of repetition counts as "3" or "3/5" ("0" when empty)."""
    return "/".join(str(x) for x in sorted(counts)) or "0"


def fmt(x, nd=2):
    return "–" if x is None else f"{x:.{nd}f}"


def busy_table(w, runs, trace, intro, col, per_cmd_unit):
    """Offload and raw runs, by (size, jobs or copies), split by QEMU's
    time-stamped trace into the time the device had a Copy command and the
    rest, per command in ms or µs (<per_cmd_unit>): both send the same Copy
    commands, so the device's time is the same work, and the rest is what
    the copy path adds."""
    by = {}
    for key, mode, r in runs:
        d = device_time(trace, r)
        if d:
            by.setdefault(key, {})[mode] = (r["seconds"], d)
    if not by:
        return
    scale, nd = (1e3, 2) if per_cmd_unit == "ms" else (1e6, 0)
    w(intro)
    w(f"| size | {col} | commands (a/c) | wall ms (a/c) | device busy ms (a/c) | outside {per_cmd_unit} per command (a/c) |")
    w("|---:|---:|---|---|---|---|")
    for (size, n), m in sorted(by.items()):
        a, c = m.get("offload"), m.get("raw")
        cell = lambda f: "/".join(f(x) if x else "–" for x in (a, c))
        w(f"| {size_name(size)} | {n} | {cell(lambda x: str(x[1][0]))} | {cell(lambda x: f'{x[0] * 1e3:.1f}')} "
          f"| {cell(lambda x: f'{x[1][1] * 1e3:.1f}')} | {cell(lambda x: f'{(x[0] - x[1][1]) / x[1][0] * scale:.{nd}f}')} |")


def device_table(w, copies, trace):
    """(a) and (c) on NVMe split into the device's time and the rest."""
    runs = [((size, jobs), mode, r) for (kind, size, jobs, mode), r in sorted(copies.items())
            if kind == "nvme" and mode in ("offload", "raw")]
    busy_table(w, runs, trace,
               "\nTime in the device vs outside it (QEMU's time-stamped trace of the same runs; a Copy command is in the "
               "device from its submission to its completion entry): **busy** = time with a Copy command in the device, "
               "**outside** = the rest of the wall time (submission, completion, wake-ups, the next command), per command.\n",
               "jobs", "µs")


NET_FABRICS = {"net-iscsi": "iSCSI (LIO on the array, EXTENDED COPY across LUs)",
               "net-nvmf": "NVMe/TCP (nvmet passthru on the array, NVMe Copy)"}
NET_RATES = ["none", "100mbit", "10mbit"]
RATE_NAME = {"none": "unshaped", "100mbit": "100 Mbit/s", "10mbit": "10 Mbit/s"}
# An offloaded copy may move this much over the link per GiB copied.
WIRE_PER_GIB = 64 << 10


def net_points(rows):
    """Network measurements by (fabric, rate, size, copies, mode): the
    median repetition (by throughput), and the repetition counts."""
    reps = {}
    for r in rows:
        reps.setdefault((r["kind"], r["rate"], r["size"], r["copies"], r["mode"]), []).append(r)
    return {k: median(rs, "mib_per_s") for k, rs in reps.items()}, reps


def net_device_table(w, pts, trace):
    """NVMe/TCP offload and raw runs split, from the array's time-stamped
    QEMU trace, into the time the array's device had a Copy command and the
    rest (the initiator's path, the network, nvmet passthru)."""
    runs = [((size, copies), mode, r) for (size, copies, mode), r in sorted(pts.items()) if mode in ("offload", "raw")]
    busy_table(w, runs, trace,
               "\nIn the array's device vs outside it (the array's QEMU trace, time-stamped; a Copy command is in the "
               "device from its submission to its completion entry): **busy** = time with a Copy command in the device, "
               "**outside** = the rest of the wall time, per command.\n",
               "copies", "ms")


def target_row(w, name, where, vals, ok):
    """A row of a targets table: the measured (label, value) pairs, and
    whether every one meets `ok` ("not measured" when none was)."""
    vals = [(lbl, v) for lbl, v in vals if v is not None]
    if not vals:
        w(f"| {name} | {where} | not measured | – |")
        return
    detail = ", ".join(f"{lbl} {v:.2f}" for lbl, v in vals)
    w(f"| {name} | {where} | {detail} | {'yes' if all(ok(v) for _, v in vals) else '**no**'} |")


def net_report(w, rows, head, trace=()):
    """The network part: per fabric and link rate, every mode side by side,
    the bytes on the wire (both ends) and the initiator's CPU per GiB, then
    the network targets checked."""
    pts, reps = net_points(rows)
    w("<!-- network part: scripts/bench.sh --net -->")
    w("## Storage network\n")
    w(head + "\n")
    w("Two VMs on one host: this initiator (2 vCPUs) and the array (1 vCPU, Debian's packaged 6.12 kernel, LIO "
      "iSCSI fileio LUNs on tmpfs and nvmet passthru of a QEMU NVMe namespace), joined by a virtio-net link over "
      "a QEMU stream socket on 127.0.0.1, shaped inside the array with tc (tbf out, policer in). Modes as above: "
      "**(a) offload**, **(b) fallback**, **(c) raw** (EXTENDED COPY through SG_IO / NVMe Copy through the "
      "passthrough ioctl on the multipath head), **(d) userspace**. copies = concurrent copies (one thread "
      "each). wire = bytes through the initiator's interface (received + sent), per GiB copied for (a) and (c), per byte copied for (b) and (d); the "
      "array's interface counter is in the JSON, and the wire targets below take the worse of the two ends. CPU = the "
      f"initiator's busy CPU seconds per GiB. Each figure is the median (by throughput) of its point's repetitions "
      f"({counts_text({len(v) for v in reps.values()})}; tests/vm/bench-net.sh says which points repeat); – = not measured at that point (a host "
      "copy moves its bytes twice over the link: a 1 GiB host copy takes minutes).\n")
    for fabric, fname in NET_FABRICS.items():
        for rate in NET_RATES:
            keys = sorted({(k[2], k[3]) for k in pts if k[0] == fabric and k[1] == rate})
            if not keys:
                continue
            w(f"\n### {fname}, link {RATE_NAME[rate]}\n")
            w("| size | copies | (a) MiB/s | (c) MiB/s | (b) MiB/s | (d) MiB/s | a/c | a/b | wire KiB per GiB (a/c) "
              "| wire bytes per byte (b/d) | CPU s/GiB (a/c/b/d) | array: commands, most in flight (a/c) |")
            w("|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|")
            for size, copies in keys:
                m = {mode: pts.get((fabric, rate, size, copies, mode)) for mode in ("offload", "raw", "fallback", "userspace")}
                t = {k: (v["mib_per_s"] if v else None) for k, v in m.items()}
                gib = size * copies / (1 << 30)
                wire = "/".join(fmt(m[k]["wire_bytes"] / 1024 / gib, 0) if m[k] else "–" for k in ("offload", "raw"))
                hwire = "/".join(fmt(m[k]["wire_bytes"] / (size * copies)) if m[k] else "–" for k in ("fallback", "userspace"))
                cpu = "/".join(fmt(v["cpu_busy_s"] / gib) if v else "–" for v in m.values())
                arr = "/".join(f"{m[k]['array_commands']}, {m[k]['array_max_inflight']}"
                               if m[k] and "array_commands" in m[k] else "–" for k in ("offload", "raw"))
                w(f"| {size_name(size)} | {copies} | {fmt(t['offload'], 1)} | {fmt(t['raw'], 1)} | {fmt(t['fallback'], 1)} "
                  f"| {fmt(t['userspace'], 1)} | {fmt(ratio(t['offload'], t['raw']))} | {fmt(ratio(t['offload'], t['fallback']))} "
                  f"| {wire} | {hwire} | {cpu} | {arr} |")
            if fabric == "net-nvmf" and trace:
                net_device_table(w, {(k[2], k[3], k[4]): v for k, v in pts.items() if k[0] == fabric and k[1] == rate}, trace)

    w("\n### Network targets\n")
    w("| target | where | measured | met |")
    w("|---|---|---|---|")

    def series(fabric, rate, num, den):
        res = []
        for (f, r, size, copies, mode), x in sorted(pts.items()):
            if f == fabric and r == rate and mode == num and size >= 64 << 20:
                y = pts.get((f, r, size, copies, den))
                if y:
                    res.append((f"{size_name(size)}×{copies}", ratio(x["mib_per_s"], y["mib_per_s"])))
        return res

    def check(name, where, vals, want):
        target_row(w, name, where, vals, lambda v: v >= want)

    for fabric in NET_FABRICS:
        short = fabric[len("net-"):]
        for rate in NET_RATES:
            check("(a) ≥ 0.9 × (c)", f"{short}, {RATE_NAME[rate]}", series(fabric, rate, "offload", "raw"), 0.9)
        check("(a) ≥ 5 × (b)", f"{short}, unshaped", series(fabric, "none", "offload", "fallback"), 5.0)
        check("(a) ≥ 10 × (b)", f"{short}, 100 Mbit/s", series(fabric, "100mbit", "offload", "fallback"), 10.0)
        off = [r for r in rows if r["kind"] == fabric and r["mode"] == "offload"]
        if off:
            worst = max(max(r["wire_bytes"], r["array_wire_bytes"]) / (r["size"] * r["copies"] / (1 << 30)) for r in off)
            w(f"| offload ≤ 64 KiB on the wire per GiB | {short}, every run ({len(off)}) | at most {worst / 1024:.1f} KiB/GiB "
              f"| {'yes' if worst <= WIRE_PER_GIB else '**no**'} |")
        host = [r for r in rows if r["kind"] == fabric and r["mode"] in ("fallback", "userspace")]
        if host:
            least = min(min(r["wire_bytes"], r["array_wire_bytes"]) / (r["size"] * r["copies"]) for r in host)
            w(f"| host copy ≥ 2 × its size on the wire | {short}, every run ({len(host)}) | at least {least:.2f} × "
              f"| {'yes' if least >= 2 else '**no**'} |")


ASYNC_MARK = "<!-- async part: scripts/bench.sh --async -->"
ASYNC_VARIANTS = ["uring-qd1", "uring-qd16", "uring-qd64", "sync-j16", "sync-j1", "uring-qd16-cpu0", "sync-j16-cpu0"]
# Measured apart from the table's variants: one thread alternating BLKCOPY
# and BLKCOPY_URING_COPY copy by copy (blkcopy-bench latency-pair).
ASYNC_PAIR = "qd1-pair"
ASYNC_KINDS = {"nvme": "NVMe (QEMU nvme-ns, Copy)", "lio": "LIO tcm_loop LUN (EXTENDED COPY)"}


def async_points(rows):
    """(kind, size, variant) -> the median repetition by throughput."""
    reps = {}
    for r in rows:
        reps.setdefault((r["kind"], r["size"], r["variant"]), []).append(r)
    return {k: median(v, "mib_per_s") for k, v in reps.items()}, reps


def async_report(w, rows, head):
    """The asynchronous part: per device kind and size, the same offloaded
    copies from one thread through io_uring at three queue depths, from 16
    threads of BLKCOPY and from one; then the issue's targets."""
    pts, reps = async_points(rows)
    w(ASYNC_MARK)
    w("## Asynchronous copies (io_uring)\n")
    w(head + "\n")
    w("The same offloaded copies, issued as BLKCOPY_URING_COPY commands from **one thread** with 1, 16 or 64 in "
      "flight (uring-qd*), by **16 threads** of the synchronous BLKCOPY ioctl (sync-j16), and by **one thread** of "
      "it (sync-j1); for 4 KiB and 64 KiB also uring-qd16 and sync-j16 with every thread on the guest's CPU 0 "
      "(*-cpu0); and one thread alternating the two, one copy at a time (qd1-pair). copies/s = copies / wall "
      "time; latency from submission to completion (p50, p99); CPU = the "
      "guest's busy CPU time (all CPUs, /proc/stat) per copy. Each figure is the median (by throughput) of its "
      f"point's repetitions ({counts_text({len(v) for v in reps.values()})}; tests/vm/bench-async.sh: seven up to 64 KiB, "
      "three above), the variants taking turns.\n")
    for kind, kname in ASYNC_KINDS.items():
        sizes = sorted({k[1] for k in pts if k[0] == kind})
        if not sizes:
            continue
        w(f"\n### {kname}\n")
        w("| size | variant | copies/s | p50 µs | p99 µs | CPU ms per copy |")
        w("|---:|---|---:|---:|---:|---:|")
        for size in sizes:
            for v in ASYNC_VARIANTS:
                r = pts.get((kind, size, v))
                if not r:
                    continue
                w(f"| {size_name(size)} | {v} | {fmt(r['copies'] / r['seconds'], 0)} | {fmt(r['lat_p50_us'], 0)} "
                  f"| {fmt(r['lat_p99_us'], 0)} | {fmt(r['cpu_busy_s'] * 1000 / r['copies'], 3)} |")

    w("\n### Asynchronous targets\n")
    w("| target | where | measured | met |")
    w("|---|---|---|---|")

    def per_copy(r, key):
        return r[key] / r["copies"] if r else None

    def rate(r):
        return r["copies"] / r["seconds"] if r else None

    for kind in ASYNC_KINDS:
        small = [s for s in (4096, 65536) if (kind, s, "uring-qd16") in pts]
        allsz = sorted({k[1] for k in pts if k[0] == kind})
        g = lambda s, v: pts.get((kind, s, v))
        target_row(w, "qd16 copies/s ≥ 16 threads'", kind,
            [(size_name(s), ratio(rate(g(s, "uring-qd16")), rate(g(s, "sync-j16")))) for s in small], lambda v: v >= 1.0)
        target_row(w, "qd16 CPU per copy ≤ 0.7 × 16 threads'", kind,
            [(size_name(s), ratio(per_copy(g(s, "uring-qd16"), "cpu_busy_s"), per_copy(g(s, "sync-j16"), "cpu_busy_s")))
             for s in small], lambda v: v <= 0.7)
        target_row(w, "qd1 p50 latency ≤ 1.1 × one thread's", kind,
            [(size_name(s), ratio(g(s, "uring-qd1")["lat_p50_us"] if g(s, "uring-qd1") else None,
                                  g(s, "sync-j1")["lat_p50_us"] if g(s, "sync-j1") else None)) for s in allsz],
            lambda v: v <= 1.1)
        if any(g(s, ASYNC_PAIR) for s in allsz):
            target_row(w, "qd1 p50 latency ≤ 1.1 × one thread's, copy by copy", kind,
                [(size_name(s), ratio(g(s, ASYNC_PAIR)["lat_p50_us"], g(s, ASYNC_PAIR)["sync_lat_p50_us"]))
                 for s in allsz if g(s, ASYNC_PAIR)], lambda v: v <= 1.1)

    pairs = sorted(k for k in pts if k[2] == ASYNC_PAIR)
    if pairs:
        w("\n### Queue depth 1, copy by copy\n")
        w("One thread alternating a BLKCOPY copy and a BLKCOPY_URING_COPY copy (qd1-pair): each copy alone, the two "
          "ways under the same conditions of the emulated device.\n")
        w("| where | size | BLKCOPY p50 µs | io_uring p50 µs | ratio | BLKCOPY p99 µs | io_uring p99 µs |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        for kind, s, _ in pairs:
            r = pts[(kind, s, ASYNC_PAIR)]
            w(f"| {kind} | {size_name(s)} | {fmt(r['sync_lat_p50_us'], 0)} | {fmt(r['lat_p50_us'], 0)} "
              f"| {ratio(r['lat_p50_us'], r['sync_lat_p50_us']):.2f} | {fmt(r['sync_lat_p99_us'], 0)} | {fmt(r['lat_p99_us'], 0)} |")

    # One thread through io_uring has one vCPU; 16 threads have both.
    # With every thread on one CPU, the two ways have the same CPU.
    one = [(kind, s) for kind in ASYNC_KINDS for s in (4096, 65536)
           if (kind, s, "uring-qd16-cpu0") in pts and (kind, s, "sync-j16-cpu0") in pts]
    if one:
        w("\n### qd16 against 16 threads, on two CPUs and on one\n")
        w("uring-qd16 / sync-j16: copies per second and CPU per copy, as measured (the 16 threads on both vCPUs, the "
          "one submitting thread on one) and with every thread on CPU 0 (*-cpu0).\n")
        w("| where | size | copies/s, two CPUs | copies/s, one CPU | CPU per copy, two CPUs | CPU per copy, one CPU |")
        w("|---|---:|---:|---:|---:|---:|")
        for kind, s in one:
            rates = [ratio(rate(pts.get((kind, s, "uring-qd16" + pin))), rate(pts.get((kind, s, "sync-j16" + pin))))
                     for pin in ("", "-cpu0")]
            cpus = [ratio(per_copy(pts.get((kind, s, "uring-qd16" + pin)), "cpu_busy_s"),
                          per_copy(pts.get((kind, s, "sync-j16" + pin)), "cpu_busy_s")) for pin in ("", "-cpu0")]
            cells = rates + cpus
            w(f"| {kind} | {size_name(s)} | " + " | ".join("–" if c is None else f"{c:.2f}" for c in cells) + " |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("--accel", default="?")
    ap.add_argument("--machine", default="?")
    ap.add_argument("--qemu", default="?")
    ap.add_argument("--png")
    ap.add_argument("--notes")
    ap.add_argument("--trace", help="QEMU's time-stamped NVMe trace of the run")
    ap.add_argument("--net", action="store_true", help="the network part (tests/vm/bench-net.sh's measurements)")
    ap.add_argument("--async", dest="async_", action="store_true",
                    help="the asynchronous part (tests/vm/bench-async.sh's measurements)")
    a = ap.parse_args()

    rows = [json.loads(l) for l in open(a.jsonl) if l.strip()]
    if a.async_:
        out = []
        async_report(out.append, rows, f"One run of `scripts/bench.sh --async` on {datetime.date.today().isoformat()}: "
                     f"QEMU accelerator **{a.accel}**, {a.qemu}; {a.machine}. Every figure below was measured in that "
                     "one boot, side by side; ratios compare measurements of the same run.")
        if a.notes:
            out.append("\n" + open(a.notes).read().rstrip() + "\n")
        print("\n".join(out))
        return
    if a.net:
        out = []
        trace = open(a.trace).read().splitlines() if a.trace else []
        net_report(out.append, rows, f"One run of `scripts/bench.sh --net` on {datetime.date.today().isoformat()}: "
                   f"QEMU accelerator **{a.accel}**, {a.qemu}; {a.machine}. Every figure below was measured in that one "
                   "boot of the two VMs, side by side; ratios compare measurements of the same run.", trace)
        if a.notes:
            out.append("\n" + open(a.notes).read().rstrip() + "\n")
        print("\n".join(out))
        return
    reps = {}     # (kind, size, jobs, mode) -> [row per repetition]
    bs_sweep = {}  # kind -> [(bs, mib/s)]
    hreps = {}    # (kind, target) -> [row per repetition]
    for r in rows:
        if r["mode"] in ("dm-clone", "blkcopy-clone"):
            hreps.setdefault((r["kind"], r["mode"]), []).append(r)
            continue
        if "bs" in r:
            bs_sweep.setdefault(r["kind"], []).append((r["bs"], r["mib_per_s"]))
            continue
        mode = "raw" if r["mode"] in ("nvme-raw", "sg-raw") else r["mode"]
        reps.setdefault((r["kind"], r["size"], r["jobs"], mode), []).append(r)
    # Each figure: the repetition with the median throughput (time, for
    # hydration), with the largest pool use seen in any repetition.
    copies = {}   # (kind, size, jobs, mode) -> median row
    for k, rs in reps.items():
        m = dict(median(rs, "mib_per_s"))
        m["pool_max_pages"] = max(r.get("pool_max_pages", 0) for r in rs)
        copies[k] = m
    hydr = {k: median(rs, "seconds") for k, rs in hreps.items()}
    trace = open(a.trace).read().splitlines() if a.trace else []

    out = []
    w = out.append
    w("# blkcopy benchmarks\n")
    w(f"One run of `scripts/bench.sh` on {datetime.date.today().isoformat()}: QEMU accelerator **{a.accel}**, "
      f"{a.qemu}; {a.machine}. Every figure below was measured in that one VM boot, side by side; "
      "ratios compare measurements of the same run.\n")
    w("Modes: **(a) offload** = BLKCOPY ioctl (offloaded where a provider can); **(b) fallback** = BLKCOPY with "
      "`BLKCOPY_FLAG_NO_OFFLOAD` (in-kernel read/write copy); **(c) raw** = the device's copy command issued "
      "from userspace with the provider's command sizes (NVMe Copy through the NVMe passthrough ioctl, EXTENDED "
      "COPY through SG_IO), one command at a time per job; **(d) userspace** = O_DIRECT `pread`/`pwrite` with 1 MiB blocks, as "
      "`dd iflag=direct oflag=direct bs=1M`. MiB/s counts the bytes copied; host MiB = data that crossed the "
      "initiator (block-layer sectors read + written on the device, per MiB copied); CPU = guest CPU busy "
      "seconds (`/proc/stat`, both vCPUs) per GiB copied; pool = peak fallback buffer use (4 KiB pages; the module's "
      "own counter, restarted before each run). "
      f"Each figure is the median (by throughput) of {reps_text(reps)} repetitions, the modes taking turns within "
      "each repetition in an order that rotates from one repetition to the next: one host-side stall (the host's writeback of QEMU's image files, the device models "
      "sharing the host's CPUs with the vCPUs) would otherwise decide a figure.\n")
    w("![Throughput by copy size](Documentation/images/bench.png)\n")

    for kind in KINDS:
        w(f"\n## {KIND_NAME[kind]}\n")
        w("| size | jobs | (a) MiB/s | (b) MiB/s | (c) MiB/s | (d) MiB/s | a/c | a/b | b/d | host MiB per MiB (a/b) "
          "| CPU s/GiB (a/b/d) | p50 µs (a/b/c/d) | pool pages (b) |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|")
        for size in sorted({k[1] for k in copies if k[0] == kind}):
            for jobs in (1, 16):
                m = {mode: copies.get((kind, size, jobs, mode)) for mode in MODES}
                if not any(m.values()):
                    continue
                t = {k: (v["mib_per_s"] if v else None) for k, v in m.items()}

                def per_mib(v):
                    if not v:
                        return None
                    b = v["size"] * v["copies"]
                    return (v["host_read_bytes"] + v["host_written_bytes"]) / b

                def cpu(v):
                    if not v:
                        return None
                    return v["cpu_busy_s"] / (v["size"] * v["copies"] / (1 << 30))

                lat = "/".join(fmt(m[k]["lat_p50_us"] if m[k] else None, 0) for k in MODES)
                w(f"| {size_name(size)} | {jobs} | {fmt(t['offload'], 1)} | {fmt(t['fallback'], 1)} | {fmt(t['raw'], 1)} "
                  f"| {fmt(t['userspace'], 1)} | {fmt(ratio(t['offload'], t['raw']))} | {fmt(ratio(t['offload'], t['fallback']))} "
                  f"| {fmt(ratio(t['fallback'], t['userspace']))} | {fmt(per_mib(m['offload']))}/{fmt(per_mib(m['fallback']))} "
                  f"| {fmt(cpu(m['offload']))}/{fmt(cpu(m['fallback']))}/{fmt(cpu(m['userspace']))} | {lat} "
                  f"| {m['fallback']['pool_max_pages'] if m['fallback'] else '–'} |")
        if kind == "nvme" and trace:
            device_table(w, copies, trace)
        if bs_sweep.get(kind):
            best = max(bs_sweep[kind], key=lambda x: x[1])
            sweep = ", ".join(f"{size_name(b)}: {v:.1f}" for b, v in sorted(bs_sweep[kind]))
            w(f"\nUserspace block size (64 MiB copies, MiB/s): {sweep}, 1 MiB as above; best {size_name(best[0])}.\n")

    w("\n## Clone hydration: stock dm-clone vs the blkcopy-clone sample\n")
    hn = counts_text({len(rs) for rs in hreps.values()})
    w(f"1 GiB hydrated, 64 KiB regions, the same source and destination volumes on the same device; dm-clone "
      "with 64-region batches and 256 regions in flight, blkcopy-clone with 64-region copies, 4 in flight "
      f"(the same data in flight); each time the median of {hn} hydrations, the two targets taking turns (and turns going first). "
      "(e) = dm-clone time / blkcopy-clone time.\n")
    w("| device | dm-clone s | blkcopy-clone s | (e) | host MiB (dm-clone / blkcopy-clone) | CPU s (dm-clone / blkcopy-clone) |")
    w("|---|---:|---:|---:|---|---|")
    e = {}
    for kind in KINDS:
        d, b = hydr.get((kind, "dm-clone")), hydr.get((kind, "blkcopy-clone"))
        if not d and not b:
            continue
        e[kind] = ratio(d["seconds"] if d else None, b["seconds"] if b else None)
        hm = lambda r: fmt((r["host_read_bytes"] + r["host_written_bytes"]) / (1 << 20), 0) if r else "–"
        w(f"| {kind} | {fmt(d['seconds'] if d else None)} | {fmt(b['seconds'] if b else None)} | {fmt(e[kind])} "
          f"| {hm(d)} / {hm(b)} | {fmt(d['cpu_busy_s'] if d else None)} / {fmt(b['cpu_busy_s'] if b else None)} |")

    # The targets, checked against this run.
    w("\n## Targets\n")
    w("| target | where | measured | met |")
    w("|---|---|---|---|")

    def check(name, where, vals, want):
        target_row(w, name, where, vals, lambda v: v >= want)

    big = [s for s in sorted({k[1] for k in copies}) if s >= 64 << 20]

    def series(kind, num, den, sizes):
        res = []
        for s in sizes:
            for j in (1, 16):
                x, y = copies.get((kind, s, j, num)), copies.get((kind, s, j, den))
                if x and y:
                    res.append((f"{size_name(s)}×{j}", ratio(x["mib_per_s"], y["mib_per_s"])))
        return res

    for kind in ("nvme", "lio"):
        check("(a) ≥ 0.9 × (c)", f"{kind}, ≥ 64 MiB", series(kind, "offload", "raw", big), 0.9)
        check("(a) ≥ 5 × (b)", f"{kind}, ≥ 64 MiB", series(kind, "offload", "fallback", big), 5.0)
    for kind in KINDS:
        allsz = sorted({k[1] for k in copies if k[0] == kind})
        check("(b) ≥ 0.8 × (d)", f"{kind}, all sizes", series(kind, "fallback", "userspace", allsz), 0.8)
    pools = sorted((k[1], v["pool_max_pages"]) for k, v in copies.items() if k[3] == "fallback" and k[2] == 1 and k[0] == "nvme")
    if pools:
        detail = ", ".join(f"{size_name(s)}: {p}" for s, p in pools)
        ok = max(p for _, p in pools) <= 1024
        w(f"| fallback memory constant in size | nvme, 1 job, pages | {detail} | {'yes' if ok else '**no**'} (≤ 1024 pages per copy) |")
    for kind in ("nvme", "lio"):
        check("(e) sample ≥ 3 × dm-clone", kind, [("e", e.get(kind))], 3.0)

    if a.notes:
        w("\n" + open(a.notes).read().rstrip() + "\n")

    print("\n".join(out))

    if a.png:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("bench-report: matplotlib missing, no plot", file=sys.stderr)
            return
        fig, axes = plt.subplots(2, 3, figsize=(15, 8), sharex=True)
        for col, kind in enumerate(KINDS):
            for row, jobs in enumerate((1, 16)):
                ax = axes[row][col]
                for mode in MODES:
                    pts = sorted((k[1], v["mib_per_s"]) for k, v in copies.items()
                                 if k[0] == kind and k[2] == jobs and k[3] == mode)
                    if pts:
                        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=mode, color=COLOR[mode])
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
                ax.set_title(f"{kind}, {jobs} job{'s' if jobs > 1 else ''}")
                ax.set_xlabel("copy size (bytes)")
                ax.set_ylabel("MiB/s")
                ax.grid(True, which="both", alpha=0.3)
                ax.legend(fontsize=8)
        fig.suptitle(f"blkcopy throughput by copy size ({a.accel})")
        fig.tight_layout()
        fig.savefig(a.png, dpi=90)


if __name__ == "__main__":
    main()
