"""Benchmark: hepml's Numba anti-kt against FastJet's awkward interface.

Both cluster the same Pythia 8 events (half ttbar, half QCD dijets with
pT-hat > 500 GeV, at 13 TeV: about 550 final-state particles each, neutrinos
dropped), in the same process, with anti-kt R = 0.4 and 0.8 (E-scheme):

* FastJet: ``fastjet.ClusterSequence(events, JetDefinition(antikt_algorithm, R))``
  then ``.inclusive_jets()`` (its awkward interface, one C++ call for all events);
* hepml: :func:`hepml.kernels.cluster.cluster_batch` (inclusive jets sorted by pt
  and each particle's jet index), with one Numba thread and with all of them.

``--ptmin`` (default 0: every jet) asks both for the jets above a pT threshold.
FastJet clusters each event to the end whatever the threshold; hepml stops an
event once the scalar pT sum of what is left is below it (no jet above the
threshold can form any more), which for anti-kt skips much of the soft
clustering. The jet counts are checked equal for every threshold.

With ``--cxx``, FastJet's C++ library is also timed directly, without the
Python package's conversions: a 30-line C++ driver (``ClusterSequence`` per event,
``sorted_by_pt(inclusive_jets())``) is compiled with ``g++ -O2`` against the
headers and library inside the ``fastjet`` wheel and run on the same events in
a subprocess (the column is skipped, with a note, when there is no compiler).

Each timing is the best of ``--repeat`` rounds (in each round FastJet and hepml
take turns, so that the machine's slow spells hit them alike). The first hepml call is timed
apart: in a fresh process with an empty Numba cache (JIT compilation) and in
this process (loading the on-disk cache when there is one). Generated events
are cached in a temporary ``.npz`` so that reruns skip Pythia.

Run::

    python benchmarks/bench_clustering.py              # 1000 events
    python benchmarks/bench_clustering.py --events 2000 --repeat 7
    python benchmarks/bench_clustering.py --cxx       # and FastJet's C++ directly
    python benchmarks/bench_clustering.py --ptmin 0 20 200   # jets above 0, 20, 200 GeV

It prints a markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _needs import need


def generate(process: str, n_events: int, seed: int) -> tuple[np.ndarray, ...]:
    """Final-state particles (px, py, pz, E, counts) of ``n_events`` Pythia events
    (hepml's generator, in memory; QCD with pT-hat > 500 GeV)."""
    import awkward as ak

    from hepml.io.generate import GenerateConfig, final_state

    pthat = None if process == "ttbar" else 500.0
    p = final_state(GenerateConfig(process=process, events=n_events, seed=seed, pthat_min=pthat))
    counts = ak.to_numpy(ak.num(p)).astype(np.int64)
    flat = [ak.to_numpy(ak.flatten(p[f])).astype(np.float64) for f in ("px", "py", "pz", "E")]
    return (*flat, counts)


def load_events(n_events: int, seed: int, cache: Path | None) -> tuple[np.ndarray, ...]:
    """px, py, pz, E content arrays and int64 offsets; ttbar then QCD."""
    if cache is None:
        cache = Path(tempfile.gettempdir()) / f"hepml_bench_events_{n_events}_{seed}.npz"
    if cache.exists():
        d = np.load(cache)
        return d["px"], d["py"], d["pz"], d["e"], d["offsets"]
    t0 = time.perf_counter()
    half = n_events // 2
    parts = [generate("ttbar", half, seed), generate("qcd", n_events - half, seed + 1)]
    px, py, pz, e, counts = (np.concatenate(x) for x in zip(*parts))
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, px=px, py=py, pz=pz, e=e, offsets=offsets)
    os.replace(tmp, cache)
    print(f"generated {n_events} events in {time.perf_counter() - t0:.1f} s -> {cache}")
    return px, py, pz, e, offsets


def best_of(fns: list, repeat: int) -> list[float]:
    """Best wall time of each function over ``repeat`` rounds; the functions take
    turns within a round so that a slow spell of the machine hits them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


COLD_COMPILE = """
import time, numpy as np
t0 = time.perf_counter()
from hepml.kernels.cluster import ANTIKT, cluster_batch
x = np.array([1.0, 2.0, 0.5]); off = np.array([0, 3], dtype=np.int64)
cluster_batch(x, x[::-1].copy(), x, 3 * x, off, 0.4, ANTIKT, 0.0, -1)
print(time.perf_counter() - t0)
"""


def cold_compile_seconds() -> float:
    """First call in a fresh process with an empty Numba cache (pure JIT compile)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
        out = subprocess.run(
            [sys.executable, "-c", COLD_COMPILE], env=env, capture_output=True, text=True
        )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return float(out.stdout.strip().splitlines()[-1])


CXX_DRIVER = r"""
#include "fastjet/ClusterSequence.hh"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
// events.bin: int64 n, int64 offsets[n + 1], float64 (px, py, pz, E)[offsets[n]]
int main(int argc, char** argv) {
  FILE* f = std::fopen(argv[1], "rb");
  double R = std::atof(argv[2]);
  int repeat = std::atoi(argv[3]);
  double ptmin = std::atof(argv[4]);
  long n;
  if (std::fread(&n, 8, 1, f) != 1) return 1;
  std::vector<long> off(n + 1);
  if (std::fread(off.data(), 8, n + 1, f) != (size_t)(n + 1)) return 1;
  std::vector<double> p(4 * off[n]);
  if (std::fread(p.data(), 8, p.size(), f) != p.size()) return 1;
  fastjet::JetDefinition jd(fastjet::antikt_algorithm, R);
  double best = 1e300;
  long jets = 0;
  for (int r = 0; r < repeat; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    jets = 0;
    for (long ev = 0; ev < n; ++ev) {
      std::vector<fastjet::PseudoJet> parts;
      parts.reserve(off[ev + 1] - off[ev]);
      for (long i = off[ev]; i < off[ev + 1]; ++i)
        parts.emplace_back(p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]);
      fastjet::ClusterSequence cs(parts, jd);
      jets += fastjet::sorted_by_pt(cs.inclusive_jets(ptmin)).size();
    }
    std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    if (dt.count() < best) best = dt.count();
  }
  std::printf("%.9f %ld\n", best, jets);
}
"""


def fastjet_cxx(px, py, pz, e, offsets, cases, repeat) -> dict[tuple, tuple[float, int]] | str:
    """Best time and jet count of FastJet's C++ library on the same events, per
    (R, ptmin) in ``cases``; or why it could not be run."""
    import shutil

    fastjet = need("fastjet", "dev", "the FastJet reference of this benchmark")

    root = Path(fastjet.__file__).parent
    libdir = next(
        (d for d in (root / "lib64", root / "lib") if (d / "libfastjet.so").exists()), None
    )
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None or libdir is None or not (root / "include" / "fastjet").is_dir():
        return "no C++ compiler, or the fastjet wheel has no headers/library"
    with tempfile.TemporaryDirectory() as tmp:
        src, exe, data = Path(tmp) / "fj.cc", Path(tmp) / "fj", Path(tmp) / "events.bin"
        src.write_text(CXX_DRIVER)
        build = subprocess.run(
            [cxx, "-O2", "-std=c++17", f"-I{root / 'include'}", str(src), f"-L{libdir}",
             "-lfastjet", f"-Wl,-rpath,{libdir}", "-o", str(exe)],
            capture_output=True, text=True,
        )  # fmt: skip
        if build.returncode != 0:
            return f"the C++ driver did not compile: {build.stderr.strip()[:200]}"
        with open(data, "wb") as f:
            np.array([len(offsets) - 1], np.int64).tofile(f)
            offsets.astype(np.int64).tofile(f)
            np.stack([px, py, pz, e], axis=1).astype(np.float64).tofile(f)
        out = {}
        for R, ptmin in cases:
            run = subprocess.run([str(exe), str(data), str(R), str(repeat), str(ptmin)],
                                 capture_output=True, text=True, check=True)  # fmt: skip
            t, jets = run.stdout.strip().splitlines()[-1].split()
            out[R, ptmin] = (float(t), int(jets))
        return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--radii", type=float, nargs="+", default=[0.4, 0.8])
    ap.add_argument("--ptmin", type=float, nargs="+", default=[0.0],
                    help="jet pT thresholds in GeV (default 0: every jet)")  # fmt: skip
    ap.add_argument("--cache", type=Path, default=None, help="events .npz (default: temp dir)")
    ap.add_argument("--no-cold-compile", action="store_true", help="skip the cold-JIT subprocess")
    ap.add_argument("--cxx", action="store_true", help="also time FastJet's C++ library directly")
    args = ap.parse_args(argv)

    import awkward as ak
    import numba

    fastjet = need("fastjet", "dev", "the FastJet reference of this benchmark")
    px, py, pz, e, offsets = load_events(args.events, args.seed, args.cache)
    n_ev = len(offsets) - 1
    n_mean = offsets[-1] / n_ev
    events = ak.unflatten(
        ak.zip({"px": px, "py": py, "pz": pz, "E": e}, with_name="Momentum4D"),
        np.diff(offsets),
    )

    cold = None if args.no_cold_compile else cold_compile_seconds()
    t0 = time.perf_counter()
    from hepml.kernels.cluster import ANTIKT, cluster_batch

    cluster_batch(px[:3], py[:3], pz[:3], e[:3], np.array([0, 3], np.int64), 0.4, ANTIKT, 0.0, -1)
    first_call = time.perf_counter() - t0

    n_threads_all = numba.config.NUMBA_NUM_THREADS
    rows = []
    n_jets = {}
    cases = [(R, ptmin) for R in args.radii for ptmin in args.ptmin]
    for R, ptmin in cases:
        jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, R)

        def run_fastjet(jetdef=jetdef, ptmin=ptmin):
            return fastjet.ClusterSequence(events, jetdef).inclusive_jets(ptmin)

        def run_hepml(R=R, ptmin=ptmin):
            return cluster_batch(px, py, pz, e, offsets, R, ANTIKT, ptmin, -1)

        def run_hepml_1(run_hepml=run_hepml):
            numba.set_num_threads(1)
            return run_hepml()

        def run_hepml_all(run_hepml=run_hepml):
            numba.set_num_threads(n_threads_all)
            return run_hepml()

        fj_jets = run_fastjet()  # warm up (and check the jet counts agree)
        hm = run_hepml_1()
        run_hepml_all()
        if not np.array_equal(np.diff(hm[4]), ak.to_numpy(ak.num(fj_jets))):
            raise RuntimeError(f"jet multiplicities differ from FastJet at R={R}, ptmin={ptmin}")
        n_jets[R, ptmin] = int(hm[4][-1])
        t_fj, t_1, t_all = best_of([run_fastjet, run_hepml_1, run_hepml_all], args.repeat)
        rows.append((R, ptmin, n_ev / t_fj, n_ev / t_1, n_ev / t_all))

    print()
    print(
        f"Clustering {n_ev} Pythia 8 events (ttbar + QCD, 13 TeV, "
        f"{n_mean:.0f} particles/event), anti-kt, E-scheme; best of {args.repeat}."
    )
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, numba {numba.__version__}, "
        f"fastjet {fastjet.__version__} ({fastjet.fastjet_version_string()})."
    )
    print()
    header = (
        "| R | pT min [GeV] | FastJet (awkward) ev/s | hepml 1 thread ev/s | ratio "
        f"| hepml {n_threads_all} threads ev/s | ratio |"
    )
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|")
    for R, ptmin, fj, h1, hn in rows:
        print(f"| {R} | {ptmin:g} | {fj:,.0f} | {h1:,.0f} | {h1 / fj:.2f}x | {hn:,.0f} "
              f"| {hn / fj:.2f}x |")  # fmt: skip
    print()
    if args.cxx:
        cxx = fastjet_cxx(px, py, pz, e, offsets, cases, args.repeat)
        if isinstance(cxx, str):
            print(f"FastJet C++ directly: skipped ({cxx})")
        else:
            print("FastJet's C++ library called directly (same events, a C++ driver, -O2):")
            print()
            print("| R | pT min [GeV] | FastJet C++ ev/s | hepml 1 thread ev/s | ratio "
                  "| jets (C++ = hepml) |")  # fmt: skip
            print("|---|---:|---:|---:|---:|---|")
            for R, ptmin, _fj, h1, _hn in rows:
                t, jets = cxx[R, ptmin]
                same = jets == n_jets[R, ptmin]
                print(f"| {R} | {ptmin:g} | {n_ev / t:,.0f} | {h1:,.0f} | {h1 * t / n_ev:.2f}x "
                      f"| {same} |")  # fmt: skip
            print()
    if cold is not None:
        print(f"hepml first call, cold JIT compile (empty Numba cache): {cold:.1f} s")
    print(f"hepml first call in this process (on-disk cache if present): {first_call:.2f} s")


if __name__ == "__main__":
    main()
