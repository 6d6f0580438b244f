"""ROOT -> jets -> particle features -> kNN edges: hepml against the pipeline a
user writes by hand (uproot + fastjet + awkward/numpy), in one process, on the
same generated file.

Run: ``.venv/bin/python benchmarks/bench_reco.py [--events 400] [--repeat 3]``

Both pipelines read the particles, cluster anti-kt R = 0.8 jets above 300 GeV,
compute ParticleNet's per-particle features of every jet (Δη, Δφ, log pT,
log E, log pT/pT_jet, log E/E_jet, ΔR, charge) and the k = 16 nearest
neighbours in (Δη, Δφ). The hand-written one uses fastjet's awkward interface
for the jets and constituents, awkward for the features and numpy per jet for
the kNN (``argsort`` of the distance matrix), as found in analysis code.
Numba compilation is done (and reported) before timing.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import awkward as ak
import numba
import numpy as np
import uproot
import vector
from _needs import need

from hepml.io import open_events
from hepml.io.generate import GenerateConfig, generate
from hepml.reco import cluster, jet_particle_features, knn_edges

fastjet = need("fastjet", "dev", "the hand-written FastJet pipeline of this benchmark")

vector.register_awkward()
R, PTMIN, K = 0.8, 300.0, 16


def hepml_pipeline(path: Path) -> tuple[int, int]:
    n_jets = n_edges = 0
    for events in open_events(path, collections=["particles"]):
        jets = cluster(events.particles, "antikt", R, pt_min=PTMIN)
        feats = ak.flatten(jet_particle_features(events.particles, jets), axis=1)
        edges = knn_edges(feats, k=K)
        n_jets += len(feats)
        n_edges += int(ak.sum(ak.num(edges)))
    return n_jets, n_edges


def hand_pipeline(path: Path) -> tuple[int, int]:
    n_jets = n_edges = 0
    branches = ["particle_px", "particle_py", "particle_pz", "particle_E", "particle_charge"]
    for raw in uproot.iterate(f"{path}:events", branches, step_size="100 MB"):
        p4 = ak.zip(
            {
                "px": ak.values_astype(raw.particle_px, np.float64),
                "py": ak.values_astype(raw.particle_py, np.float64),
                "pz": ak.values_astype(raw.particle_pz, np.float64),
                "E": ak.values_astype(raw.particle_E, np.float64),
            }
        )
        cs = fastjet.ClusterSequence(p4, fastjet.JetDefinition(fastjet.antikt_algorithm, R))
        jets = cs.inclusive_jets(PTMIN)
        idx = cs.constituent_index(PTMIN)
        # gather the constituents' momenta and charges through flat global indices
        start = np.cumsum(ak.to_numpy(ak.num(p4))) - ak.to_numpy(ak.num(p4))
        glob = ak.flatten(idx + start, axis=None)
        per_jet, per_event = ak.flatten(ak.num(idx, axis=2)), ak.num(idx, axis=1)

        def gather(x, glob=glob, per_jet=per_jet, per_event=per_event):
            return ak.unflatten(ak.unflatten(ak.flatten(x)[glob], per_jet), per_event)

        charge = gather(raw.particle_charge)
        members = vector.zip({k: gather(p4[k]) for k in ("px", "py", "pz", "E")})
        j = vector.zip({"px": jets.px, "py": jets.py, "pz": jets.pz, "E": jets.E})
        order = ak.argsort(members.pt, axis=2, ascending=False)
        members, charge = members[order], charge[order]
        deta = members.eta - j.eta
        dphi = members.deltaphi(j)
        feats = {
            "deta": deta,
            "dphi": dphi,
            "log_pt": np.log(members.pt),
            "log_e": np.log(members.E),
            "log_pt_rel": np.log(members.pt / j.pt),
            "log_e_rel": np.log(members.E / j.E),
            "delta_r": np.hypot(deta, dphi),
            "charge": charge,
        }
        flat_eta = ak.flatten(feats["deta"], axis=1)
        flat_phi = ak.flatten(feats["dphi"], axis=1)
        for eta, phi in zip(flat_eta, flat_phi):  # the per-jet kNN a user writes
            eta, phi = np.asarray(eta), np.asarray(phi)
            n = len(eta)
            d = (eta[:, None] - eta[None, :]) ** 2 + (
                (phi[:, None] - phi[None, :] + np.pi) % (2 * np.pi) - np.pi
            ) ** 2
            np.fill_diagonal(d, np.inf)
            k = min(K, n - 1)
            nn = np.argsort(d, axis=1, kind="stable")[:, :k]
            src, dst = nn.ravel(), np.repeat(np.arange(n), k)
            assert len(src) == len(dst)
            n_edges += len(src)
            n_jets += 1
    return n_jets, n_edges


def best_of(fn, repeat):
    out, best = None, np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ttbar.root"
        cfg = GenerateConfig(process="ttbar", events=args.events, seed=5, jobs=2, pthat_min=400)
        generate(cfg, path)
        t0 = time.perf_counter()
        hepml_pipeline(path)  # compile (or load the cache of) every kernel
        compile_s = time.perf_counter() - t0
        print(
            f"machine: {platform.machine()}, {numba.config.NUMBA_NUM_THREADS} cores; "
            f"{args.events} ttbar events (pT-hat > 400 GeV); first hepml call {compile_s:.1f} s"
        )
        print("\n| threads | hepml events/s | hand-written events/s | hepml/hand | jets | edges |")
        print("|---|---|---|---|---|---|")
        t_hand, (nj_h, ne_h) = best_of(lambda: hand_pipeline(path), args.repeat)
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            t_ours, (nj, ne) = best_of(lambda: hepml_pipeline(path), args.repeat)
            assert (nj, ne) == (nj_h, ne_h), ((nj, ne), (nj_h, ne_h))
            print(
                f"| {threads} | {args.events / t_ours:,.0f} | {args.events / t_hand:,.0f} | "
                f"{t_hand / t_ours:.2f} | {nj} | {ne} |"
            )


if __name__ == "__main__":
    main()
