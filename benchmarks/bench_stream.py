"""Peak memory of the streaming dataset against loading everything, on files several
times larger than the shuffle buffer.

Writes ``--copies`` copies of the given jet files (parquet, row groups of 8192 jets)
into a temporary folder, then in separate child processes (so each peak is its own):

* **in memory** — ``load_rows`` + ``JetGraphs`` + one pass of batches;
* **streaming** — ``StreamingJetGraphs(shuffle_buffer=B)``, one full pass.

and prints the jets read, seconds and peak RSS (``ru_maxrss``) of each, plus the
baseline RSS of a child that only imports hepml and torch. Run::

    python benchmarks/bench_stream.py --data top_jets.parquet qcd_jets.parquet [--copies 4] [--buffer 8192]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time, torch
torch.set_num_threads(1)
from hepml.graphs import JetGraphs, StreamingJetGraphs, load_rows
mode, buffer, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
t0 = time.perf_counter()
n = 0
if mode == "memory":
    data = JetGraphs(load_rows(*files))
    for lo in range(0, len(data), 256):
        n += data.batch(torch.arange(lo, min(lo + 256, len(data)))).num_graphs
elif mode == "write":  # the copies, written by a child so the parent stays small
    import awkward as ak
    from hepml.reco.pipeline import PARQUET_ROW_GROUP
    rows = load_rows(*files[1:])
    for c in range(buffer):
        ak.to_parquet(rows, f"{files[0]}/copy{c}.parquet", row_group_size=PARQUET_ROW_GROUP)
elif mode == "stream":
    for b in StreamingJetGraphs(files, batch_size=256, shuffle_buffer=buffer, seed=0):
        n += b.num_graphs
print(json.dumps({"jets": n, "seconds": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--copies", type=int, default=4)
    p.add_argument("--buffer", type=int, default=8192)
    args = p.parse_args()
    # the parent imports nothing heavy: ru_maxrss survives fork + exec on Linux, so a
    # large parent would raise every child's peak
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-c", CHILD, "write", str(args.copies), tmp, *args.data],
                       check=True)  # fmt: skip
        files = [os.path.join(tmp, f"copy{c}.parquet") for c in range(args.copies)]
        size = sum(os.path.getsize(f) for f in files) / 1e6
        print(f"# {args.copies} copies of {args.data}: {size:.0f} MB of parquet; "
              f"shuffle buffer {args.buffer} jets")  # fmt: skip
        print("| mode | jets | seconds | peak RSS (MB) |")
        print("|---|---:|---:|---:|")
        for mode in ("baseline", "memory", "stream"):
            out = subprocess.run([sys.executable, "-c", CHILD, mode, str(args.buffer), *files],
                                 capture_output=True, text=True, check=True)  # fmt: skip
            r = json.loads(out.stdout.strip().splitlines()[-1])
            label = {"baseline": "imports only", "memory": "in memory (JetGraphs)",
                     "stream": f"streaming (buffer {args.buffer})"}[mode]  # fmt: skip
            print(f"| {label} | {r['jets']} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
