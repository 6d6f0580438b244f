"""Benchmark: hepml's substructure kernels against FastJet contrib (``fastjet`` package).

Jets: anti-kt R = 0.8, pT > 300 GeV, from Pythia 8 events at 13 TeV (half ttbar,
half QCD with pT-hat > 400 GeV; neutrinos dropped), clustered with FastJet.
Both sides get the same constituents, in the same process:

* soft drop (z_cut = 0.1, beta = 0, R0 = 0.8): FastJet builds one cluster sequence
  per jet (kt, R = 1000, one C++ call for all jets) and runs
  ``exclusive_jets_softdrop_grooming(njets=1)`` (contrib ``SoftDrop``);
  hepml runs :func:`hepml.kernels.substructure.soft_drop_batch`;
* N-subjettiness tau1..3 (KT axes, normalised, beta = 1): FastJet's
  ``njettiness(NormalizedMeasure, KT_Axes)`` on the same per-jet sequences;
  hepml runs :func:`hepml.kernels.substructure.nsubjettiness_batch`.

The FastJet column includes building the per-jet cluster sequences (its API
needs one). hepml is timed with one Numba thread and with all of them; each
timing is the best of ``--repeat`` runs, after a warm-up call (JIT / cache load).
The results are checked to agree before timing.

Run::

    python benchmarks/bench_substructure.py            # 400 events
    python benchmarks/bench_substructure.py --events 1000 --repeat 5

It prints a markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from _needs import need


def generate(process: str, n_events: int, seed: int):
    """Final-state particles (awkward records px, py, pz, E) of ``n_events`` events
    (hepml's generator, in memory, pT-hat > 400 GeV)."""
    from hepml.io.generate import GenerateConfig, final_state

    p = final_state(GenerateConfig(process=process, events=n_events, seed=seed, pthat_min=400.0))
    return p[["px", "py", "pz", "E"]]


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    import awkward as ak
    import numba

    fastjet = need("fastjet", "dev", "the FastJet reference of this benchmark")

    from hepml.kernels.substructure import (
        MAX_ALLOWABLE_R,
        nsubjettiness_batch,
        soft_drop_batch,
    )

    half = args.events // 2
    events = ak.concatenate(
        [
            generate("ttbar", half, args.seed),
            generate("qcd", args.events - half, args.seed),
        ]
    )
    cs = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.8))
    const = ak.flatten(cs.constituents(min_pt=300.0), axis=1)
    const = ak.zip({"px": const.px, "py": const.py, "pz": const.pz, "E": const.E})
    counts = ak.to_numpy(ak.num(const)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    px, py, pz, e = (
        np.ascontiguousarray(ak.to_numpy(ak.flatten(const[c])), dtype=np.float64)
        for c in ("px", "py", "pz", "E")
    )
    kt_def = fastjet.JetDefinition(fastjet.kt_algorithm, MAX_ALLOWABLE_R)

    def fj_softdrop():
        per_jet = fastjet.ClusterSequence(const, kt_def)
        return per_jet.exclusive_jets_softdrop_grooming(njets=1, beta=0.0, symmetry_cut=0.1, R0=0.8)

    def fj_nsub():
        per_jet = fastjet.ClusterSequence(const, kt_def)
        return per_jet.njettiness(
            measure_definition="NormalizedMeasure",
            axes_definition="KT_Axes",
            njets=[1, 2, 3],
            beta=1.0,
            R0=0.8,
        )

    def hep_softdrop():
        return soft_drop_batch(px, py, pz, e, offsets, 0.1, 0.0, 0.8)

    def hep_nsub():
        return nsubjettiness_batch(px, py, pz, e, offsets, 0.8, 1.0, True)

    # agreement (and warm-up)
    assert np.array_equal(hep_softdrop()[1], ak.to_numpy(fj_softdrop().msoftdrop))
    assert np.allclose(hep_nsub(), ak.to_numpy(fj_nsub()), rtol=1e-12, atol=0.0)

    n_all = numba.config.NUMBA_NUM_THREADS
    rows = []
    for name, fj, hep in (
        ("soft drop (z=0.1, β=0)", fj_softdrop, hep_softdrop),
        ("τ1,τ2,τ3 (kt axes, β=1)", fj_nsub, hep_nsub),
    ):
        t_fj = best_of(fj, args.repeat)
        numba.set_num_threads(1)
        t_1 = best_of(hep, args.repeat)
        numba.set_num_threads(n_all)
        t_all = best_of(hep, args.repeat)
        rows.append((name, t_fj, t_1, t_all))

    n_jets = len(counts)
    print(
        f"{n_jets} jets (mean {counts.mean():.0f} constituents) from {args.events} events; "
        f"{platform.processor() or platform.machine()}, {n_all} Numba threads, "
        f"best of {args.repeat}\n"
    )
    print(
        "| observable | FastJet contrib (ms) | hepml 1 thread (ms) | "
        f"hepml {n_all} threads (ms) | FastJet / hepml 1 thread |"
    )
    print("|---|---|---|---|---|")
    for name, t_fj, t_1, t_all in rows:
        print(
            f"| {name} | {1e3 * t_fj:.1f} | {1e3 * t_1:.1f} | {1e3 * t_all:.1f} | {t_fj / t_1:.2f} |"
        )


if __name__ == "__main__":
    main()
