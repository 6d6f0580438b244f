"""Pure-torch kNN against a plain-Python brute force and the Numba kernel (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hepml.kernels.knn import knn_edges
from hepml.models.knn import knn

TOL = 1e-9


def _brute(points, graph_ids, k, loop=False):
    """Plain-Python kNN: nearest first, ties by lower index, self first when ``loop``."""
    edges = []
    n = len(points)
    for i in range(n):
        cand = []
        for j in range(n):
            if graph_ids[j] != graph_ids[i] or (j == i and not loop):
                continue
            d = sum((a - b) ** 2 for a, b in zip(points[i], points[j]))
            cand.append((-1.0 if j == i else d, j))
        cand.sort()
        edges += [(j, i) for _, j in cand[:k]]
    return edges


def _assert_same_neighbours(got, ref, points):
    """Same neighbour lists per target, up to exact (within TOL) distance ties."""
    points = np.asarray(points, dtype=np.float64)

    def groups(edges):
        out = {}
        for s, t in edges:
            out.setdefault(int(t), []).append(int(s))
        return out

    g, r = groups(got), groups(ref)
    assert set(g) == set(r)
    for t in r:
        assert len(g[t]) == len(r[t]), t
        dg = [float(((points[s] - points[t]) ** 2).sum()) if s != t else -1.0 for s in g[t]]
        dr = [float(((points[s] - points[t]) ** 2).sum()) if s != t else -1.0 for s in r[t]]
        np.testing.assert_allclose(dg, sorted(dg), atol=TOL)  # nearest first
        np.testing.assert_allclose(sorted(dg), sorted(dr), atol=TOL)
        boundary = max(dr)
        for s in set(g[t]) ^ set(r[t]):
            d = float(((points[s] - points[t]) ** 2).sum())
            assert abs(d - boundary) <= TOL, (t, s)


coordinate = st.one_of(
    st.integers(-2, 2).map(float),  # many exact ties
    st.floats(-5, 5, allow_nan=False, allow_subnormal=False),
)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 9), min_size=1, max_size=5),
    dims=st.integers(1, 6),  # <= 4: per-coordinate distances, above: matmul
    k=st.integers(1, 7),
    loop=st.booleans(),
    data=st.data(),
)
def test_knn_matches_brute_force(counts, dims, k, loop, data):
    n = sum(counts)
    points = [[data.draw(coordinate) for _ in range(dims)] for _ in range(n)]
    graph_ids = [g for g, c in enumerate(counts) for _ in range(c)]
    x = torch.tensor(points, dtype=torch.float64).reshape(n, dims)
    got = knn(x, k, torch.tensor(graph_ids, dtype=torch.long), loop=loop)
    assert got.dtype == torch.long
    assert got.shape[0] == 2
    expected = sum(c * min(k, c if loop else c - 1) for c in counts)
    assert got.shape[1] == expected
    ref = _brute(points, graph_ids, k, loop)
    _assert_same_neighbours(got.T.tolist(), ref, points)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 15), min_size=1, max_size=6),
    k=st.integers(1, 10),
    seed=st.integers(0, 2**31),
    grid=st.booleans(),
)
def test_knn_matches_numba_kernel(counts, k, seed, grid):
    """Same edges as hepml.kernels.knn.knn_edges in (η, φ) with |φ| < 1 (no wrap)."""
    rng = np.random.default_rng(seed)
    n = sum(counts)
    if grid:  # coarse grid: exact ties
        eta, phi = rng.integers(-3, 4, n) / 4.0, rng.integers(-3, 4, n) / 4.0
    else:
        eta, phi = rng.uniform(-1, 1, n), rng.uniform(-0.99, 0.99, n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    ref, _ = knn_edges(eta, phi, offsets, k)
    batch = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    got = knn(torch.tensor(np.stack([eta, phi], axis=1)), k, batch)
    points = np.stack([eta, phi], axis=1)
    _assert_same_neighbours(got.T.tolist(), ref.T.tolist(), points)


def test_knn_identical_to_numba_kernel_on_jets():
    """Without ties the edge lists are identical, column for column (same order)."""
    rng = np.random.default_rng(3)
    counts = rng.integers(1, 80, 100)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    eta, phi = rng.normal(0, 0.3, offsets[-1]), np.clip(rng.normal(0, 0.3, offsets[-1]), -1, 1)
    ref, _ = knn_edges(eta, phi, offsets, 16)
    batch = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    got = knn(torch.tensor(np.stack([eta, phi], axis=1)), 16, batch)
    np.testing.assert_array_equal(got.numpy(), ref)
    # float32 (the training dtype) finds the same neighbour sets
    got32 = knn(torch.tensor(np.stack([eta, phi], axis=1), dtype=torch.float32), 16, batch)
    _assert_same_neighbours(got32.T.tolist(), ref.T.tolist(), np.stack([eta, phi], axis=1))


def test_knn_small_graphs_and_loops():
    x = torch.tensor([[0.0], [5.0], [6.0], [9.0]])
    batch = torch.tensor([0, 1, 1, 1])  # a single-node graph and 3 < k nodes
    assert knn(x, 16, batch).tolist() == [[2, 3, 1, 3, 2, 1], [1, 1, 2, 2, 3, 3]]
    # loop=True: itself first; the single node gets its self-loop
    looped = knn(x, 2, batch, loop=True)
    assert looped.tolist() == [[0, 1, 2, 2, 1, 3, 2], [0, 1, 1, 2, 2, 3, 3]]
    assert knn(x[:1], 4).shape == (2, 0)
    assert knn(x[:0], 4).shape == (2, 0)
    assert knn(x, 1, batch=None).tolist() == [[1, 2, 1, 2], [0, 1, 2, 3]]


def test_knn_empty_graph_ids_and_int_input():
    x = torch.tensor([[0], [1], [10], [12]])
    batch = torch.tensor([0, 0, 3, 3])  # graphs 1 and 2 have no nodes
    assert knn(x, 3, batch).tolist() == [[1, 0, 3, 2], [0, 1, 2, 3]]


def test_knn_large_offsets_stay_accurate():
    """Centering per graph keeps the expanded distance formula exact enough far from 0."""
    base = torch.tensor([[1.0e4, -1.0e4]])
    x = base + torch.tensor([[0.0, 0.0], [0.01, 0.0], [0.0, 0.03], [0.05, 0.05]])
    assert knn(x, 1).tolist() == [[1, 0, 0, 2], [0, 1, 2, 3]]
    wide = torch.cat([x, torch.full((4, 3), 5.0e3)], dim=1)  # 5 features: the matmul path
    assert knn(wide, 1).tolist() == [[1, 0, 0, 2], [0, 1, 2, 3]]


@pytest.mark.parametrize(
    ("x", "k", "batch", "match"),
    [
        (torch.zeros(3), 2, None, "n_nodes, n_features"),
        (torch.zeros(3, 2), 0, None, "k must be"),
        (torch.zeros(3, 2), 2, torch.tensor([0, 1]), "one graph id per node"),
        (torch.zeros(3, 2), 2, torch.tensor([1, 0, 1]), "sorted"),
    ],
)
def test_knn_bad_input(x, k, batch, match):
    with pytest.raises(ValueError, match=match):
        knn(x, k, batch)


def test_knn_is_not_differentiable_but_accepts_grad_inputs():
    x = torch.randn(10, 3, requires_grad=True)
    assert not knn(x, 3).requires_grad


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 12), min_size=1, max_size=5),
    dims=st.integers(1, 4),  # exact distances: exact ties
    k=st.integers(1, 7),
    loop=st.booleans(),
    double=st.booleans(),
    data=st.data(),
)
def test_knn_ties_take_the_lower_index(counts, dims, k, loop, double, data):
    """On points of a coarse grid (most distances tie) the neighbour sets are exactly
    the brute force's, which takes the lower index among equal distances."""
    n = sum(counts)
    points = [[float(data.draw(st.integers(-1, 1))) for _ in range(dims)] for _ in range(n)]
    graph_ids = [g for g, c in enumerate(counts) for _ in range(c)]
    dtype = torch.float64 if double else torch.float32
    x = torch.tensor(points, dtype=dtype).reshape(n, dims)
    got = knn(x, k, torch.tensor(graph_ids, dtype=torch.long), loop=loop)

    def sets(edges):
        out = {}
        for s, t in edges:
            out.setdefault(int(t), set()).add(int(s))
        return out

    assert sets(got.T.tolist()) == sets(_brute(points, graph_ids, k, loop))


@pytest.mark.parametrize("features", [2, 32])
def test_knn_under_bf16_autocast_is_the_fp32_graph(features):
    """Mixed precision must not change the graph: the distances stay in fp32 (bf16's
    matmul reordered neighbours and moved scores by up to 0.08 on CUDA)."""
    g = torch.Generator().manual_seed(3)
    counts = torch.randint(1, 80, (64,), generator=g)
    batch = torch.repeat_interleave(torch.arange(len(counts)), counts)
    x = torch.randn(len(batch), features, generator=g)
    ref = knn(x, 16, batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = knn(x, 16, batch)
        assert torch.equal(got, ref)
        # a bf16 input (a layer's output under autocast) is measured in fp32 too
        assert torch.equal(knn(x.bfloat16(), 16, batch), knn(x.bfloat16().float(), 16, batch))


@pytest.mark.gpu
def test_knn_cuda_matches_cpu(cuda):
    rng = np.random.default_rng(5)
    counts = torch.tensor(rng.integers(1, 120, 300))
    batch = torch.repeat_interleave(torch.arange(len(counts)), counts)
    x = torch.tensor(rng.normal(0, 0.3, (int(counts.sum()), 2)), dtype=torch.float64)
    cpu = knn(x, 16, batch)
    gpu = knn(x.to(cuda), 16, batch.to(cuda))
    assert gpu.device.type == "cuda"
    assert torch.equal(gpu.cpu(), cpu)
    x32 = x.float()
    got = knn(x32.to(cuda), 16, batch.to(cuda)).cpu()
    _assert_same_neighbours(got.T.tolist(), cpu.T.tolist(), x.numpy())
