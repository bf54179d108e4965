#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host tests of the benchmark report (scripts/bench-report.py): which
repetition a figure comes from, and the device's time read from QEMU's
time-stamped trace. Run by scripts/test.sh."""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("bench_report", os.path.join(HERE, "bench-report.py"))
br = importlib.util.module_from_spec(spec)
spec.loader.exec_module(br)


def report(rows, *args):
    """The report bench-report.py prints for measurement rows `rows`."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    try:
        return subprocess.run([sys.executable, os.path.join(HERE, "bench-report.py"), f.name, *args],
                              check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)


def stamp(t, text):
    return f"4242@{t:.6f}:{text}"


class Median(unittest.TestCase):
    def test_odd_count_takes_the_middle(self):
        rows = [{"v": 5, "i": 0}, {"v": 1, "i": 1}, {"v": 3, "i": 2}, {"v": 9, "i": 3}, {"v": 4, "i": 4}]
        self.assertEqual(br.median(rows, "v")["i"], 4)

    def test_even_count_takes_the_lower_middle(self):
        self.assertEqual(br.median([{"v": 2}, {"v": 8}], "v")["v"], 2)

    def test_one_row(self):
        self.assertEqual(br.median([{"v": 7}], "v")["v"], 7)


class DeviceTime(unittest.TestCase):
    TRACE = [
        stamp(10.0, "pci_nvme_enqueue_req_completion cid 1 cqid 1 dw0 0x0 dw1 0x0 status 0x0"),  # before
        stamp(10.5, "pci_nvme_copy cid 7 nsid 1 nr 4 format 0x0"),
        stamp(10.5001, "pci_nvme_copy_source_range slba 0x0 nlb 16384"),
        stamp(10.6, "pci_nvme_copy cid 8 nsid 1 nr 4 format 0x0"),         # overlaps cid 7
        stamp(10.7, "pci_nvme_enqueue_req_completion cid 7 cqid 1 dw0 0x0 dw1 0x0 status 0x0"),
        stamp(10.8, "pci_nvme_enqueue_req_completion cid 8 cqid 1 dw0 0x0 dw1 0x0 status 0x0"),
        stamp(11.0, "pci_nvme_enqueue_req_completion cid 3 cqid 1 dw0 0x0 dw1 0x0 status 0x0"),  # a read
        stamp(11.2, "pci_nvme_copy cid 7 nsid 1 nr 1 format 0x0"),         # cid reused
        stamp(11.3, "pci_nvme_enqueue_req_completion cid 7 cqid 2 dw0 0x0 dw1 0x0 status 0x0"),
        stamp(12.0, "pci_nvme_copy cid 9 nsid 1 nr 1 format 0x0"),         # after the range
    ]

    def test_union_of_copy_commands_in_the_range(self):
        n, busy = br.device_time(self.TRACE, {"trace_from": 1, "trace_to": 9})
        self.assertEqual(n, 3)
        self.assertAlmostEqual(busy, 0.3 + 0.1, places=6)

    def test_without_stamps_or_marks(self):
        self.assertIsNone(br.device_time(self.TRACE, {}))
        plain = [l.split(":", 1)[1] for l in self.TRACE]
        self.assertIsNone(br.device_time(plain, {"trace_from": 0, "trace_to": len(plain)}))


class Report(unittest.TestCase):
    def row(self, mode, rep, mib, pool=0, **extra):
        r = {"kind": "nvme", "mode": mode, "rep": rep, "size": 64 << 20, "copies": 4, "jobs": 1,
             "seconds": 256 / mib, "mib_per_s": mib, "cpu_busy_s": 0.1, "host_read_bytes": 0,
             "host_written_bytes": 0, "lat_p50_us": 1000.0, "pool_max_pages": pool}
        r.update(extra)
        return r

    def test_medians_and_pool_maximum(self):
        rows = [self.row("offload", 0, 3000.0), self.row("nvme-raw", 0, 4000.0),
                self.row("offload", 1, 1000.0), self.row("nvme-raw", 1, 5000.0),
                self.row("offload", 2, 2000.0), self.row("nvme-raw", 2, 4500.0),
                self.row("fallback", 0, 500.0, pool=1024), self.row("fallback", 1, 600.0, pool=7),
                self.row("fallback", 2, 700.0, pool=9)]
        out = report(rows)
        line = next(l for l in out.splitlines() if l.startswith("| 64 MiB | 1 |"))
        cells = [c.strip() for c in line.split("|")]
        # (a) 2000 (median of 3000, 1000, 2000), (b) 600, (c) 4500; a/c 0.44, a/b 3.33.
        self.assertEqual(cells[3:6], ["2000.0", "600.0", "4500.0"])
        self.assertEqual(cells[7:9], ["0.44", "3.33"])
        self.assertEqual(cells[-2], "1024")
        self.assertIn("median (by throughput) of 3 repetitions", out)

    def test_hydration_median(self):
        rows = [{"kind": "nvme", "mode": m, "rep": i, "size": 1 << 30, "copies": 1, "jobs": 1, "seconds": t,
                 "mib_per_s": 1024 / t, "cpu_busy_s": 1.0, "host_read_bytes": 0, "host_written_bytes": 0}
                for i, (m, t) in enumerate([("dm-clone", 4.0), ("blkcopy-clone", 1.0), ("dm-clone", 1.5),
                                            ("blkcopy-clone", 0.5), ("dm-clone", 3.0), ("blkcopy-clone", 0.6)])]
        out = report(rows)
        self.assertIn("the median of 3 hydrations", out)
        # dm-clone 3.0 s, blkcopy-clone 0.6 s: e = 5.00.
        self.assertIn("| nvme | 3.00 | 0.60 | 5.00 |", out)


class NetReport(unittest.TestCase):
    def row(self, mode, rate, rep, mib, wire, awire=None, size=64 << 20, copies=1):
        return {"kind": "net-nvmf", "rate": rate, "mode": mode, "rep": rep, "size": size, "copies": copies,
                "jobs": copies, "seconds": size * copies / (1 << 20) / mib, "mib_per_s": mib, "cpu_busy_s": 0.25,
                "wire_bytes": wire, "array_wire_bytes": wire if awire is None else awire, "host_read_bytes": 0,
                "host_written_bytes": 0, "pool_max_pages": 0}

    def test_medians_ratios_and_targets(self):
        rows = [self.row("offload", "none", 0, 300.0, 1000), self.row("offload", "none", 1, 100.0, 1200),
                self.row("offload", "none", 2, 200.0, 1100), self.row("nvme-raw", "none", 0, 210.0, 900),
                self.row("fallback", "none", 0, 10.0, 140 << 20), self.row("userspace", "none", 0, 9.0, 141 << 20),
                self.row("offload", "100mbit", 0, 150.0, 1000), self.row("fallback", "100mbit", 0, 16.0, 140 << 20)]
        rows[3]["mode"] = "raw"
        out = report(rows, "--net")
        line = next(l for l in out.splitlines() if l.startswith("| 64 MiB | 1 |"))
        cells = [c.strip() for c in line.split("|")]
        # (a) 200 (median of 300, 100, 200), (c) 210, (b) 10, (d) 9;
        # a/c 0.95, a/b 20.00; wire per GiB: 1100 B x 16 = 17 KiB and
        # 900 B x 16 = 14 KiB; host 140 MiB / 64 MiB = 2.19, 141 / 64 = 2.20.
        self.assertEqual(cells[3:9], ["200.0", "210.0", "10.0", "9.0", "0.95", "20.00"])
        self.assertEqual(cells[9:11], ["17/14", "2.19/2.20"])
        self.assertIn("| (a) ≥ 0.9 × (c) | nvmf, unshaped | 64 MiB×1 0.95 | yes |", out)
        self.assertIn("| (a) ≥ 5 × (b) | nvmf, unshaped | 64 MiB×1 20.00 | yes |", out)
        # 150 / 16 = 9.38 < 10.
        self.assertIn("| (a) ≥ 10 × (b) | nvmf, 100 Mbit/s | 64 MiB×1 9.38 | **no** |", out)
        self.assertIn("| (a) ≥ 0.9 × (c) | nvmf, 10 Mbit/s | not measured | – |", out)
        # Offload wire: at most 1200 B per 64 MiB = 18.75 KiB/GiB; host at least 140 MiB / 64 MiB.
        self.assertIn("at most 18.8 KiB/GiB | yes |", out)
        self.assertIn("at least 2.19 × | yes |", out)

    def test_array_commands_and_device_time(self):
        off = self.row("offload", "none", 0, 640.0, 1000)   # 64 MiB in 0.1 s
        off.update(array_commands=2, array_max_inflight=1, trace_from=0, trace_to=4)
        raw = self.row("raw", "none", 0, 1280.0, 900)       # 0.05 s
        raw.update(array_commands=2, array_max_inflight=2, trace_from=4, trace_to=8)
        trace = [stamp(1.00, "pci_nvme_copy cid 1 nsid 1 nr 1 format 0x0"),
                 stamp(1.02, "pci_nvme_enqueue_req_completion cid 1 cqid 1 dw0 0x0 dw1 0x0 status 0x0"),
                 stamp(1.05, "pci_nvme_copy cid 2 nsid 1 nr 1 format 0x0"),
                 stamp(1.07, "pci_nvme_enqueue_req_completion cid 2 cqid 1 dw0 0x0 dw1 0x0 status 0x0"),
                 stamp(2.00, "pci_nvme_copy cid 3 nsid 1 nr 1 format 0x0"),
                 stamp(2.00, "pci_nvme_copy cid 4 nsid 1 nr 1 format 0x0"),
                 stamp(2.03, "pci_nvme_enqueue_req_completion cid 3 cqid 1 dw0 0x0 dw1 0x0 status 0x0"),
                 stamp(2.04, "pci_nvme_enqueue_req_completion cid 4 cqid 1 dw0 0x0 dw1 0x0 status 0x0")]
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
            f.write("\n".join(trace) + "\n")
        try:
            out = report([off, raw], "--net", "--trace", f.name)
        finally:
            os.unlink(f.name)
        line = next(l for l in out.splitlines() if l.startswith("| 64 MiB | 1 | 640.0"))
        self.assertEqual(line.split("|")[-2].strip(), "2, 1/2, 2")
        # offload: 100 ms wall, 40 ms busy, 30 ms outside per command;
        # raw: 50 ms wall, 40 ms busy, 5 ms outside per command.
        self.assertIn("| 64 MiB | 1 | 2/2 | 100.0/50.0 | 40.0/40.0 | 30.00/5.00 |", out)

    def test_wire_limits_fail(self):
        rows = [self.row("offload", "none", 0, 100.0, 1000, awire=8192), self.row("fallback", "none", 0, 10.0, 100 << 20)]
        out = report(rows, "--net")
        self.assertIn("at most 128.0 KiB/GiB | **no** |", out)
        self.assertIn("at least 1.56 × | **no** |", out)


class AsyncTargets(unittest.TestCase):
    """The asynchronous part: medians per variant, and its three targets."""

    @staticmethod
    def row(variant, size, copies_per_s, cpu_per_copy, p50, rep=0, copies=100):
        return {"kind": "nvme", "variant": variant, "rep": rep, "size": size, "copies": copies,
                "seconds": copies / copies_per_s, "mib_per_s": size * copies_per_s / (1 << 20),
                "lat_p50_us": p50, "lat_p99_us": p50 * 2, "cpu_busy_s": cpu_per_copy * copies}

    def rows(self, qd16_rate, qd16_cpu, qd1_p50):
        rs = []
        for size in (4096, 65536):
            rs += [self.row("uring-qd16", size, qd16_rate, qd16_cpu, 100), self.row("sync-j16", size, 1000, 0.001, 100),
                   self.row("uring-qd1", size, 500, 0.001, qd1_p50), self.row("sync-j1", size, 500, 0.001, 100)]
        return rs

    def targets(self, rows):
        out = report(rows, "--async")
        return [l for l in out.splitlines() if l.startswith("| qd") and "| nvme |" in l]

    def test_met(self):
        t = self.targets(self.rows(qd16_rate=1200, qd16_cpu=0.0005, qd1_p50=105))
        self.assertEqual(len(t), 3)
        self.assertIn("4 KiB 1.05", t[2])
        self.assertTrue(all(l.endswith("| yes |") for l in t), t)
        self.assertIn("4 KiB 1.20", t[0])

    def test_missed(self):
        t = self.targets(self.rows(qd16_rate=900, qd16_cpu=0.0008, qd1_p50=120))
        self.assertTrue(all(l.endswith("| **no** |") for l in t), t)

    def test_one_cpu(self):
        rows = self.rows(qd16_rate=800, qd16_cpu=0.0008, qd1_p50=100)
        rows += [self.row("uring-qd16-cpu0", 4096, 600, 0.0006, 100), self.row("sync-j16-cpu0", 4096, 500, 0.0012, 100)]
        out = report(rows, "--async")
        self.assertIn("| nvme | 4 KiB | 0.80 | 1.20 | 0.80 | 0.50 |", out)
        self.assertNotIn("| nvme | 64 KiB |", out)
        self.assertNotIn("on two CPUs and on one", report(self.rows(1000, 0.001, 100), "--async"))

    def test_pair(self):
        pair = dict(self.row("qd1-pair", 4096, 500, 0.001, 104), sync_lat_p50_us=100, sync_lat_p99_us=300)
        out = report(self.rows(1000, 0.001, 130) + [pair], "--async")
        self.assertIn("| nvme | 4 KiB | 100 | 104 | 1.04 | 300 | 208 |", out)
        self.assertIn("| qd1 p50 latency ≤ 1.1 × one thread's, copy by copy | nvme | 4 KiB 1.04 | yes |", out)
        self.assertIn("| qd1 p50 latency ≤ 1.1 × one thread's | nvme | 4 KiB 1.30, 64 KiB 1.30 | **no** |", out)
        self.assertNotIn("| qd1-pair |", out)

    def test_median_of_repetitions(self):
        rows = [self.row("uring-qd16", 4096, r, 0.001, 100, rep=i) for i, r in enumerate((900, 1500, 1100))]
        pts, _ = br.async_points(rows)
        self.assertAlmostEqual(pts[("nvme", 4096, "uring-qd16")]["copies"] / pts[("nvme", 4096, "uring-qd16")]["seconds"], 1100)


if __name__ == "__main__":
    unittest.main()
