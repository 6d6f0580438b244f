"""Particle Flow Network: sum pooling, permutation invariance, training, TorchScript."""

from __future__ import annotations

import pytest
import torch

from hepml.models import PFN, PFNConfig, build

from .conftest import make_jets, separable_jets, shuffle_within_graphs, train_losses


def test_shapes_and_sum_pooling():
    model = build("pfn", n_classes=4).eval()
    x, _, batch = make_jets([1, 5, 30, 2])
    with torch.no_grad():
        out = model(x, batch)
        assert out.shape == (4, 4)
        # F(Σ Φ(p)) by hand for jet 2
        latent = model.phi(x[batch == 2]).sum(0, keepdim=True)
        torch.testing.assert_close(out[2:3], model.out(model.f(latent)))
    assert [m.out_features for m in model.phi if isinstance(m, torch.nn.Linear)] == [100, 100, 128]
    assert [m.out_features for m in model.f if isinstance(m, torch.nn.Linear)] == [100, 100, 100]


def test_permutation_invariance():
    model = build("pfn").eval()
    x, _, batch = make_jets([1, 6, 17, 3], seed=5)
    perm = shuffle_within_graphs(batch, seed=6)
    with torch.no_grad():
        torch.testing.assert_close(model(x, batch), model(x[perm], batch[perm]))


def test_training_reduces_loss():
    x, _, batch, labels = separable_jets(n_features=6)
    model = build("pfn", input_dims=6, dropout=0.1)
    first, final = train_losses(model, lambda: model(x, batch), labels, steps=40, lr=1e-3)
    assert final < 0.5 * first, (first, final)


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.* is deprecated:DeprecationWarning")
def test_forward_data_and_script():
    from torch_geometric.data import Batch, Data

    x, _, batch = make_jets([3, 1, 8], seed=7)
    data = Batch.from_data_list([Data(x=x[batch == g]) for g in range(3)])
    model = PFN(PFNConfig()).eval()
    with torch.no_grad():
        torch.testing.assert_close(model.forward_data(data), model(x, batch))
    scripted = torch.jit.script(model)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x, batch), model(x, batch))


@pytest.mark.gpu
def test_cuda(cuda):
    model = build("pfn").to(cuda).eval()
    x, _, batch = make_jets([1, 5, 30])
    with torch.no_grad():
        assert model(x.to(cuda), batch.to(cuda)).shape == (3, 2)
