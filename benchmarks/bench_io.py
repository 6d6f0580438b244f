"""I/O benchmark: hepml's reader against a plain ``uproot.iterate``, generation speed,
and peak memory while streaming files much larger than one chunk.

Run: ``.venv/bin/python benchmarks/bench_io.py [--events 1000] [--repeat 7]``

It prints a markdown table (paste into benchmarks/RESULTS.md):

* read: events/s and MB/s (in-memory bytes of the branches read) for
  ``hepml.io.open_events`` and for ``uproot.iterate`` of the same branches with
  the same step size, in one process on the same file; the ratio
  hepml/uproot is the figure (the schema layer should cost < 20 %).
* generate: Pythia 8 events/s with 1 and 2 jobs.
* stream: peak resident memory of a process streaming a file of N and 4N
  times one chunk; it must not grow with the file's length.
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import awkward as ak
import uproot

from hepml.io import open_events, write_root
from hepml.io.generate import GenerateConfig, _to_writable, generate

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_read(path: Path, step, repeat: int, collections=None) -> dict:
    stream = open_events(path, step_size=step, collections=collections)
    n = sum(len(c) for c in stream)  # also warms the page cache
    mapping = stream.mapping
    branches = mapping.branches()
    tree = uproot.open(path)[mapping.tree]
    nbytes = tree.arrays(filter_name=branches).nbytes  # in-memory size of what is read

    def ours():
        for chunk in open_events(path, step_size=step, collections=collections):
            len(chunk)

    def raw():
        for chunk in uproot.iterate(f"{path}:{mapping.tree}", filter_name=branches, step_size=step):
            len(chunk)

    t_raw = t_ours = float("inf")
    for _ in range(repeat):  # interleaved, so both see the same machine state
        t_raw = min(t_raw, best_of(raw, 1))
        t_ours = min(t_ours, best_of(ours, 1))
    return {
        "file": path.name,
        "events": n,
        "branches": len(branches),
        "hepml_evs": n / t_ours,
        "uproot_evs": n / t_raw,
        "hepml_mbs": nbytes / 1e6 / t_ours,
        "uproot_mbs": nbytes / 1e6 / t_raw,
        "ratio": t_raw / t_ours,
    }


def make_long_file(base: Path, out: Path, copies: int) -> int:
    """``copies`` times the events of ``base``, written chunk by chunk."""

    def chunks():
        for _ in range(copies):
            with uproot.open(base) as f:
                for arr in f["events"].iterate(step_size="50 MB"):
                    yield _to_writable(arr)

    write_root(out, {"events": chunks()})
    return uproot.open(out)["events"].num_entries


def stream_peak_rss(path: Path, step: str) -> tuple[float, int]:
    """Peak RSS (MB) of a fresh process that streams ``path`` through the whole reader."""
    code = (
        "import resource, sys\n"
        "import awkward as ak\n"
        "from hepml.io import open_events\n"
        "n = 0\n"
        f"for ev in open_events({str(path)!r}, step_size={step!r}):\n"
        "    n += len(ev); ak.sum(ev.particles.pt)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, n)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    mb, n = out.stdout.split()
    return float(mb), int(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.system()}, "
        f"python {platform.python_version()}, uproot {uproot.__version__}, awkward {ak.__version__}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gen_rows = []
        for jobs in (1, 2):
            cfg = GenerateConfig(process="ttbar", events=args.events, seed=1, jobs=jobs)
            res = generate(cfg, tmp / f"ttbar_j{jobs}.root")
            gen_rows.append((jobs, res.events_per_second))
        sample = tmp / "ttbar_j2.root"

        rows = [bench_read(sample, "20 MB", args.repeat)]
        if (SHARED / "nanoAOD_2015_CMS_Open_Data_ttbar.root").exists():
            rows.append(
                bench_read(SHARED / "nanoAOD_2015_CMS_Open_Data_ttbar.root", 50, args.repeat)
            )
            rows.append(bench_read(SHARED / "uproot-HZZ-zstd.root", 500, args.repeat))

        print("\n### Reading: hepml.io.open_events vs uproot.iterate (same branches, same step)\n")
        print(
            "| file | events | branches | hepml events/s | uproot events/s | hepml MB/s | uproot MB/s | hepml/uproot |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['file']} | {r['events']} | {r['branches']} | {r['hepml_evs']:,.0f} | "
                f"{r['uproot_evs']:,.0f} | {r['hepml_mbs']:.1f} | {r['uproot_mbs']:.1f} | {r['ratio']:.2f} |"
            )

        print("\n### Generation (Pythia 8, ttbar, 13 TeV)\n")
        print("| jobs | events/s |")
        print("|---|---|")
        for jobs, evs in gen_rows:
            print(f"| {jobs} | {evs:.1f} |")

        print("\n### Streaming memory (step 10 MB): peak RSS must not grow with file length\n")
        print("| copies of the sample | events | file MB | peak RSS MB |")
        print("|---|---|---|---|")
        for copies in (4, 16):
            long = tmp / f"long_{copies}.root"
            make_long_file(sample, long, copies)
            mb, n = stream_peak_rss(long, "10 MB")
            print(f"| {copies} | {n} | {long.stat().st_size / 1e6:.0f} | {mb:.0f} |")
    print(
        f"\n(this process's peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
    )


if __name__ == "__main__":
    main()
