"""Scan and pack at the real release's size: 1,000,000 band files / 200,000 objects (or ``--objects N``).

    python benchmarks/bench_scale.py [--objects 200000] [--workers 2] [--keep]

1. writes the labelled release in its published form with the simulator's fast writer into
   ``benchmarks/_work/scale_tree`` (git-ignored): four nested class folders of
   ``D1_L_00000000_b.fits`` files (string IDs, ``1681D`` float64 + TDIM), each class with a
   ``parameters.fits`` and a ``_manifest.txt`` listing its files. Images cycle through a pool of
   64 random ones (their content does not change the I/O cost);
2. runs the scan alone (``scan_fits_tree`` over the four class folders, incl. the manifest check)
   in a child process;
3. runs ``brahmasifier pack <four class folders> --out ... --workers W`` in a child process;
4. deletes the tree and the store (unless ``--keep``).

Each child runs under ``/usr/bin/time -v`` (its peak RSS: the largest single process of the
child's tree) while this script sums the RSS of the child's whole process tree from ``/proc``
every 0.2 s (the peak of that sum is what the machine needed). Linux only. At full size the
tree takes ~20.5 GB of disk and the store ~6.7 GB; more than the page cache of a 24 GB machine,
so the pack reads part of its input from disk, as a first pack after a download does.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from brahmasifier.bands import BANDS, STAMP_SIZE
from brahmasifier.io.release import class_folder
from brahmasifier.simulation.writer import DatasetWriter

WORK = Path(__file__).resolve().parent / "_work"
CLASSES = (("slsim", 1), ("slsim", 0), ("hsc", 1), ("hsc", 0))


def write_tree(root: Path, n_objects: int, seed: int = 0) -> float:
    """Write the tree (see module docstring); return the seconds it took."""
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(seed)
    pool = rng.normal(0.0, 1.0, (64, len(BANDS), STAMP_SIZE, STAMP_SIZE))
    writer = DatasetWriter(root, "challenge")
    per_class = n_objects // len(CLASSES)
    started = time.perf_counter()
    for c, (domain, label) in enumerate(CLASSES):
        stems, rows = [], []
        for index in range(per_class):
            object_id = f"GG-LENS_{index}_{c}" if domain == "slsim" else f"{c}{index:021d}"
            stems.append(writer.write_object(domain, label, index, index, object_id, pool[(index + c) % len(pool)]))
            rows.append({"id": object_id, "RA": 0.01 * index, "Dec": -0.01 * index, "vel_disp": 200.0 if label else -999.0})
            if (index + 1) % max(per_class // 5, 1) == 0:
                done = c * per_class + index + 1
                rate = done / (time.perf_counter() - started)
                print(f"  wrote {done:,} objects ({5 * done:,} files), {rate:,.0f} objects/s", flush=True)
        writer.write_class_catalogue(domain, label, stems, rows)
    return time.perf_counter() - started


def _descendants(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_measured(command: list[str]) -> dict[str, object]:
    """Run ``command`` under /usr/bin/time -v; wall time, peak RSS (largest process) and peak summed tree RSS."""
    process = subprocess.Popen(["/usr/bin/time", "-v", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], sum(_rss_kb(p) for p in _descendants(process.pid)[1:]))  # [0] is time itself
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed ({process.returncode}):\n{err[-3000:]}")
    largest = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    return {"seconds": seconds, "stdout": out, "largest_rss_mb": int(largest[1]) / 1024 if largest else float("nan"),
            "tree_rss_mb": peak[0] / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=200_000,
                        help="objects in all (5 band files each); default: the real release's 200,000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the tree and the store")
    args = parser.parse_args(argv)
    root, store = WORK / "scale_tree", WORK / "scale_store"
    shutil.rmtree(store, ignore_errors=True)
    n = args.objects // len(CLASSES) * len(CLASSES)
    free = shutil.disk_usage(WORK.parent if not WORK.exists() else WORK).free
    need = n * (5 * 20480 + 5 * STAMP_SIZE * STAMP_SIZE * 4)
    if need > 0.8 * free:
        print(f"needs ~{need / 1e9:.1f} GB, {free / 1e9:.1f} GB free: use fewer --objects", file=sys.stderr)
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"writing {n:,} objects ({5 * n:,} files) into {root} ...", flush=True)
    write_seconds = write_tree(root, n)
    size = sum(e.stat().st_blocks * 512 for c in CLASSES for e in os.scandir(root / class_folder(*c) / class_folder(*c)))
    roots = [str(root / class_folder(*c)) for c in CLASSES]
    try:
        scan = run_measured([sys.executable, "-c", (
            "import sys, time\nfrom brahmasifier.io import scan_fits_tree\nt = time.perf_counter()\n"
            "s = scan_fits_tree(sys.argv[1:])\n"
            "print(len(s.objects), len(s.rejected), sum(c.n_missing for c in s.manifest_checks),"
            " time.perf_counter() - t)"), *roots])
        n_scanned, n_rejected, missing, scan_inner = scan["stdout"].split()  # type: ignore[union-attr]
        assert int(n_scanned) == n and int(n_rejected) == 0, scan["stdout"]
        pack = run_measured([sys.executable, "-m", "brahmasifier", "pack", *roots, "--out", str(store),
                             "--workers", str(args.workers), "--no-progress"])
        index = pd.read_parquet(store / "index.parquet", columns=["id", "label", "vel_disp"])
        assert len(index) == n and int((index["label"] == 1).sum()) == n // 2, "pack lost objects"
        print(f"\n{n:,} objects, {5 * n:,} files, {size / 1e9:.1f} GB on disk; {args.workers} pack workers; "
              f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs (shared)")
        print(f"{'step':<44} {'seconds':>9} {'objects/s':>10} {'peak RSS, largest process':>26} {'peak RSS, all processes':>24}")
        print(f"{'write the tree (fast writer, 1 process)':<44} {write_seconds:>9.1f} {n / write_seconds:>10,.0f}")
        steps = (("scan alone (incl. manifest check), child", scan), (f"brahmasifier pack, {args.workers} workers", pack))
        for name, result in steps:
            seconds = float(result["seconds"])  # type: ignore[arg-type]
            print(f"{name:<44} {seconds:>9.1f} {n / seconds:>10,.0f} {result['largest_rss_mb']:>23,.0f} MB "
                  f"{result['tree_rss_mb']:>21,.0f} MB")
        print(f"(scan inside its process: {float(scan_inner):.1f} s; manifest check: {missing} listed files missing)")
        print(pack["stdout"], flush=True)
    finally:
        if not args.keep:
            started = time.perf_counter()
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(store, ignore_errors=True)
            print(f"deleted the tree and the store in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
