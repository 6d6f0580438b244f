"""Particle features and kNN edges against plain-Python references (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hepml.kernels.features import FEATURE_NAMES, jet_particle_features
from hepml.kernels.knn import knn_edges

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


def _jets(draw_counts, rng):
    counts = np.asarray(draw_counts, dtype=np.int64)
    n = int(counts.sum())
    px, py = rng.normal(0, 20, n), rng.normal(0, 20, n)
    pz = rng.normal(0, 50, n)
    m = rng.uniform(0, 0.5, n)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return px, py, pz, e, offsets


def _py_features(px, py, pz, e, charge, pid, jet, max_particles):
    jpx, jpy, jpz, je = jet
    jpt = math.hypot(jpx, jpy)
    jeta = math.asinh(jpz / jpt)
    jphi = math.atan2(jpy, jpx)
    rows = []
    for i in range(len(px)):
        ppt = math.hypot(px[i], py[i])
        deta = math.asinh(pz[i] / ppt) - jeta
        dphi = (math.atan2(py[i], px[i]) - jphi + math.pi) % (2 * math.pi) - math.pi
        a = abs(pid[i])
        t = 3 if a == 11 else 4 if a == 13 else 2 if a == 22 else 0 if charge[i] else 1
        onehot = [0.0] * 5
        onehot[t] = 1.0
        rows.append(
            (
                ppt,
                i,
                [
                    deta,
                    dphi,
                    math.log(ppt),
                    math.log(e[i]),
                    math.log(ppt / jpt),
                    math.log(e[i] / je),
                    math.hypot(deta, dphi),
                    charge[i],
                    *onehot,
                ],
            )
        )
    rows.sort(key=lambda r: (-r[0], r[1]))
    if max_particles >= 0:
        rows = rows[:max_particles]
    return np.array([r[2] for r in rows]).reshape(-1, len(FEATURE_NAMES)), [r[1] for r in rows]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 12), min_size=1, max_size=5), st.integers(-1, 6), st.integers(0, 2**31)
)
def test_features_match_plain_python(counts, max_particles, seed):
    rng = np.random.default_rng(seed)
    px, py, pz, e, offsets = _jets(counts, rng)
    n = len(px)
    pid = rng.choice(np.array([211, -211, 130, 22, 11, -13, 2112], dtype=np.int32), n)
    charge = np.where(np.isin(abs(pid), [211, 11, 13]), np.sign(pid), 0).astype(np.int32)
    nj = len(counts)
    jets = [
        (
            px[offsets[j] : offsets[j + 1]].sum() + 1.0,
            py[offsets[j] : offsets[j + 1]].sum(),
            pz[offsets[j] : offsets[j + 1]].sum(),
            e[offsets[j] : offsets[j + 1]].sum() + 2.0,
        )
        for j in range(nj)
    ]
    jpx, jpy, jpz, je = (np.array(c) for c in zip(*jets))
    feats, order, out = jet_particle_features(
        px, py, pz, e, charge, pid, offsets, jpx, jpy, jpz, je, max_particles
    )
    for j in range(nj):
        lo, hi = offsets[j], offsets[j + 1]
        ref, ref_order = _py_features(
            px[lo:hi],
            py[lo:hi],
            pz[lo:hi],
            e[lo:hi],
            charge[lo:hi],
            pid[lo:hi],
            jets[j],
            max_particles,
        )
        got = feats[out[j] : out[j + 1]]
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=2e-5, atol=2e-5)
        assert list(order[out[j] : out[j + 1]] - lo) == ref_order


def _py_knn_ordered(eta, phi, k):
    """Per target, its k nearest (distance, then index), nearest first."""
    n = len(eta)
    out = []
    for i in range(n):
        d = []
        for j in range(n):
            if j != i:
                dphi = math.fmod(phi[i] - phi[j], 2 * math.pi)
                dphi = dphi - 2 * math.pi if dphi > math.pi else dphi
                dphi = dphi + 2 * math.pi if dphi <= -math.pi else dphi
                d.append(((eta[i] - eta[j]) ** 2 + dphi**2, j))
        d.sort()
        out += [(j, i) for _, j in d[:k]]
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 9), min_size=1, max_size=4), st.integers(1, 12), st.integers(0, 2**31)
)
def test_knn_matches_plain_python(counts, k, seed):
    rng = np.random.default_rng(seed)
    n = sum(counts)
    eta = rng.uniform(-1, 1, n)
    phi = rng.uniform(-math.pi, math.pi, n)  # neighbours across the phi = ±pi seam too
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    edges, eoff = knn_edges(eta, phi, offsets, k)
    for g in range(len(counts)):
        lo, hi = offsets[g], offsets[g + 1]
        ref = _py_knn_ordered(eta[lo:hi], phi[lo:hi], k)
        got = [(int(a) - lo, int(b) - lo) for a, b in edges[:, eoff[g] : eoff[g + 1]].T]
        assert sorted(got) == sorted(ref)
        assert len(got) == (hi - lo) * min(k, max(hi - lo - 1, 0))


def test_knn_wraps_phi_and_breaks_ties_by_index():
    eta = np.zeros(4)
    phi = np.array([3.1, -3.1, 0.0, 1.0])  # 0 and 1 are 0.083 apart across the seam
    edges, _ = knn_edges(eta, phi, np.array([0, 4]), 1)
    assert [tuple(e) for e in edges.T] == [(1, 0), (0, 1), (3, 2), (2, 3)]
    # exact ties: equidistant neighbours, the lower index wins
    edges, _ = knn_edges(np.zeros(3), np.array([0.0, 1.0, -1.0]), np.array([0, 3]), 1)
    assert (edges[0, 0], edges[1, 0]) == (1, 0)


def test_knn_large_jets_in_order_with_ties_and_any_phi_range():
    rng = np.random.default_rng(7)
    jets = []
    for n in (150, 67, 17, 16, 2):
        jets.append((rng.uniform(-0.8, 0.8, n), rng.uniform(-0.8, 0.8, n)))
    # duplicated particles: exact ties everywhere
    e, f = rng.uniform(-0.5, 0.5, 20), rng.uniform(-0.5, 0.5, 20)
    jets.append((np.concatenate([e, e, e[:5]]), np.concatenate([f, f, f[:5]])))
    # azimuths over several turns: the general (fmod) path
    jets.append((rng.uniform(-2, 2, 60), rng.uniform(-9, 12, 60)))
    eta = np.concatenate([j[0] for j in jets])
    phi = np.concatenate([j[1] for j in jets])
    offsets = np.concatenate([[0], np.cumsum([len(j[0]) for j in jets])]).astype(np.int64)
    edges, eoff = knn_edges(eta, phi, offsets, 16)
    for g in range(len(jets)):
        lo, hi = offsets[g], offsets[g + 1]
        got = [(int(a) - lo, int(b) - lo) for a, b in edges[:, eoff[g] : eoff[g + 1]].T]
        assert got == _py_knn_ordered(eta[lo:hi], phi[lo:hi], 16), g


def test_single_particle_and_empty_jets_have_no_edges():
    edges, eoff = knn_edges(np.zeros(1), np.zeros(1), np.array([0, 0, 1]), 16)
    assert edges.shape == (2, 0)
    assert list(eoff) == [0, 0, 0]
