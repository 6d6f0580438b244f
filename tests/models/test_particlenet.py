"""ParticleNet: shapes on ragged batches, permutation invariance, training, size, TorchScript."""

from __future__ import annotations

import pytest
import torch

from hepml.kernels.features import N_FEATURES
from hepml.models import ParticleNet, ParticleNetConfig, build, particlenet_lite_config

from .conftest import make_jets, separable_jets, shuffle_within_graphs, train_losses

RAGGED = [1, 3, 20, 7, 2, 40]  # single-particle jet, jets with fewer particles than k


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["particlenet", "particlenet-lite"])
@pytest.mark.parametrize("train", [True, False])
def test_shapes_on_ragged_batch(name, train):
    model = build(name, n_classes=3)
    model.train(train)
    x, pos, batch = make_jets(RAGGED)
    out = model(x, pos, batch)
    assert out.shape == (len(RAGGED), 3)
    assert torch.isfinite(out).all()


def test_single_jet_and_empty_graph_ids():
    model = build("particlenet-lite").eval()
    x, pos, _ = make_jets([5])
    assert model(x, pos).shape == (1, 2)
    # graph 1 has no particles; num_graphs adds a trailing empty graph
    x, pos, batch = make_jets([4, 0, 6])
    out = model(x, pos, batch, num_graphs=4)
    assert out.shape == (4, 2)
    # an empty jet pools to zeros: its logits are the head's response to zero
    torch.testing.assert_close(out[1], out[3])


def test_permutation_invariance():
    torch.manual_seed(0)
    model = build("particlenet").eval()
    x, pos, batch = make_jets(RAGGED, seed=1)
    perm = shuffle_within_graphs(batch, seed=2)
    with torch.no_grad():
        a = model(x, pos, batch)
        b = model(x[perm], pos[perm], batch[perm])
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_jets_do_not_talk_to_each_other():
    model = build("particlenet-lite").eval()
    x, pos, batch = make_jets([6, 9, 4], seed=3)
    with torch.no_grad():
        together = model(x, pos, batch)
        alone = model(x[6:15], pos[6:15])
    torch.testing.assert_close(together[1:2], alone, atol=1e-5, rtol=1e-5)


def test_training_reduces_loss_and_all_parameters_get_gradients():
    x, pos, batch, labels = separable_jets(n_features=6)
    model = build("particlenet-lite", input_dims=6)
    first, final = train_losses(model, lambda: model(x, pos, batch), labels, steps=40)
    assert final < 0.5 * first, (first, final)
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(x, pos, batch), labels).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def test_parameter_counts():
    """The paper's networks (no fusion, 7 inputs, 2 classes): 366k and 26k parameters."""
    full = build("particlenet", input_dims=7, fusion=False)
    lite = build("particlenet-lite", input_dims=7, fusion=False)
    print(f"ParticleNet (paper layout): {n_params(full):,}; Lite: {n_params(lite):,}")
    assert n_params(full) == pytest.approx(366_000, rel=0.01)
    assert n_params(lite) == pytest.approx(26_000, rel=0.02)
    # weaver's layout (fusion layer, the default) is larger
    fused = build("particlenet", input_dims=7)
    fused_lite = build("particlenet-lite", input_dims=7)
    print(f"ParticleNet (weaver, fusion): {n_params(fused):,}; Lite: {n_params(fused_lite):,}")
    assert n_params(fused) == 571_728
    assert n_params(fused_lite) == 47_152


def test_default_input_dims_is_hepml_feature_set():
    assert ParticleNetConfig().input_dims == N_FEATURES
    assert particlenet_lite_config().k == 7


def test_forward_data_with_pyg_batch():
    from torch_geometric.data import Batch, Data

    x, pos, batch = make_jets([3, 1, 8], seed=4)
    graphs = [Data(x=x[batch == g], pos=pos[batch == g]) for g in range(3)]
    model = build("particlenet-lite").eval()
    with torch.no_grad():
        torch.testing.assert_close(
            model.forward_data(Batch.from_data_list(graphs)), model(x, pos, batch)
        )
        assert model.forward_data(graphs[2]).shape == (1, 2)
    with pytest.raises(ValueError, match="pos"):
        model.forward_data(Data(x=x))


@pytest.mark.filterwarnings("ignore:.*torch.jit.script.* is deprecated:DeprecationWarning")
def test_torchscript_matches_eager_on_new_shapes():
    model = ParticleNet(particlenet_lite_config()).eval()
    scripted = torch.jit.script(model)
    for counts in ([5, 1, 12], [30, 2, 2, 9, 1]):
        x, pos, batch = make_jets(counts, seed=len(counts))
        with torch.no_grad():
            torch.testing.assert_close(scripted(x, pos, batch), model(x, pos, batch))


@pytest.mark.gpu
def test_cuda_forward_backward(cuda):
    model = build("particlenet").to(cuda)
    x, pos, batch = make_jets(RAGGED)
    out = model(x.to(cuda), pos.to(cuda), batch.to(cuda))
    assert out.device.type == "cuda"
    out.sum().backward()
    model.eval()
    cpu_model = build("particlenet").eval()
    cpu_model.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    with torch.no_grad():
        torch.testing.assert_close(
            model(x.to(cuda), pos.to(cuda), batch.to(cuda)).cpu(),
            cpu_model(x, pos, batch),
            atol=1e-4,
            rtol=1e-4,
        )


def _jets_with_cells(counts, seed):
    """Jets whose neutral-like particles share calorimeter cells: (Δη, Δφ) and the
    features repeat, so kNN distances tie exactly (as on smeared events)."""
    x, pos, batch = make_jets(counts, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    cells = (torch.randint(-8, 9, (len(batch), 2), generator=gen) * 0.1).float()
    dup = torch.rand(len(batch), generator=gen) < 0.5
    pos[dup] = cells[dup]
    x[dup] = x[dup][:, :1].round()  # few distinct values: features tie too
    return x, pos, batch


def test_a_jets_score_does_not_depend_on_its_batch():
    """Exact kNN ties are broken by index, not by topk's memory layout: each jet
    scored alone equals its score in a batch (padded to another size)."""
    torch.manual_seed(0)
    model = build("particlenet-lite").eval()
    counts = torch.randint(1, 120, (300,), generator=torch.Generator().manual_seed(1)).tolist()
    x, pos, batch = _jets_with_cells(counts, seed=2)
    with torch.no_grad():
        together = model(x, pos, batch)
        for g in range(len(counts)):
            sel = batch == g
            alone = model(x[sel], pos[sel], torch.zeros(int(sel.sum()), dtype=torch.long))
            torch.testing.assert_close(alone[0], together[g], rtol=0, atol=1e-6)
