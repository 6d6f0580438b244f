"""Fixtures for the model tests: small variable-size batches of synthetic jets.

(torch's threads and torch_geometric's import are set up in ``tests/conftest.py``.)
"""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("torch") is None:  # torch is the `all` extra
    collect_ignore_glob = ["test_*.py"]
else:
    import torch


def make_jets(counts, n_features=13, seed=0, dtype=None):
    """``x`` ``(n, F)``, ``pos`` ``(n, 2)`` (|Δη|, |Δφ| < 0.8) and ``batch`` for jets of
    ``counts`` particles (a zero count leaves its graph id without nodes)."""
    gen = torch.Generator().manual_seed(seed)
    dtype = dtype or torch.float32
    counts = torch.as_tensor(counts, dtype=torch.long)
    n = int(counts.sum())
    x = torch.randn(n, n_features, generator=gen, dtype=dtype)
    pos = (torch.rand(n, 2, generator=gen, dtype=dtype) * 2 - 1) * 0.8
    batch = torch.repeat_interleave(torch.arange(len(counts)), counts)
    return x, pos, batch


def shuffle_within_graphs(batch, seed=0):
    """A permutation of the nodes that keeps each graph's nodes contiguous and in place."""
    gen = torch.Generator().manual_seed(seed)
    keys = batch.double() + torch.rand(batch.numel(), generator=gen, dtype=torch.double)
    return torch.argsort(keys)


def separable_jets(n_jets=64, n_features=6, seed=0):
    """A tiny separable problem: label = sign of the jet's mean of feature 0."""
    gen = torch.Generator().manual_seed(seed)
    counts = torch.randint(2, 12, (n_jets,), generator=gen)
    x, pos, batch = make_jets(counts, n_features, seed)
    labels = torch.randint(0, 2, (n_jets,), generator=gen)
    x[:, 0] += (labels[batch].float() * 2 - 1) * 0.7
    mean0 = torch.zeros(n_jets).index_add(0, batch, x[:, 0]) / counts
    return x, pos, batch, (mean0 > 0).long()


def train_losses(model, forward, labels, steps=40, lr=5e-3):
    """Full-batch Adam steps; returns the loss before and after (model in train mode)."""
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(forward(), labels)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    with torch.no_grad():
        final = float(torch.nn.functional.cross_entropy(forward(), labels))
    return losses[0], final


@pytest.fixture
def cuda():
    """``torch.device("cuda")``; skips when no CUDA device is present."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return torch.device("cuda")
