"""Event-level GNN: fully connected graphs, shapes, invariance, training."""

from __future__ import annotations

import pytest
import torch

from hepml.models import EventGNN, EventGNNConfig, build, fully_connected

from .conftest import make_jets, separable_jets, shuffle_within_graphs, train_losses


def test_fully_connected_matches_all_pairs():
    batch = torch.tensor([0, 1, 1, 1, 3, 3])
    ref = [(s, t) for t in range(6) for s in range(6) if s != t and batch[s] == batch[t]]
    assert fully_connected(batch).T.tolist() == [list(e) for e in ref]
    looped = fully_connected(batch, loop=True)
    assert looped.shape[1] == 1 + 9 + 4
    assert fully_connected(batch[:0]).shape == (2, 0)
    with pytest.raises(ValueError, match="sorted"):
        fully_connected(torch.tensor([1, 0]))


@pytest.mark.parametrize(
    "options", [{}, {"graph": "knn", "k": 3}, {"aggr": "max"}, {"aggr": "sum", "use_fts_bn": False}]
)
def test_shapes(options):
    model = build("event-gnn", input_dims=8, n_classes=3, **options)
    x, _, batch = make_jets([1, 4, 12, 2], n_features=8)
    assert model(x, batch).shape == (4, 3)
    model.eval()
    assert model(x, batch).shape == (4, 3)


def test_explicit_edges_equal_default_full_graph():
    model = EventGNN(EventGNNConfig(input_dims=8)).eval()
    x, _, batch = make_jets([3, 5, 1], n_features=8)
    with torch.no_grad():
        torch.testing.assert_close(model(x, batch, fully_connected(batch)), model(x, batch))


def test_object_permutation_invariance():
    model = build("event-gnn", input_dims=8, aggr="max").eval()
    x, _, batch = make_jets([2, 9, 5], n_features=8, seed=8)
    perm = shuffle_within_graphs(batch, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, batch), model(x[perm], batch[perm]), atol=1e-5, rtol=1e-5
        )


def test_training_reduces_loss():
    x, _, batch, labels = separable_jets(n_features=6)
    model = build("event-gnn", input_dims=6)
    first, final = train_losses(model, lambda: model(x, batch), labels, steps=40)
    assert final < 0.5 * first, (first, final)


def test_forward_data():
    from torch_geometric.data import Batch, Data

    x, _, batch = make_jets([3, 4], n_features=10)
    data = Batch.from_data_list([Data(x=x[batch == g]) for g in range(2)])
    model = build("event-gnn").eval()
    with torch.no_grad():
        # Data without edge_index: the full graph is built
        torch.testing.assert_close(model.forward_data(data), model(x, batch))


@pytest.mark.gpu
@pytest.mark.parametrize("options", [{}, {"graph": "knn", "k": 3}])
def test_cuda_forward_backward_equals_cpu(cuda, options):
    model = build("event-gnn", input_dims=8, **options).to(cuda)
    x, _, batch = make_jets([1, 4, 12, 2, 30], n_features=8, seed=4)
    out = model(x.to(cuda), batch.to(cuda))
    assert out.device.type == "cuda"
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    cpu_model = build("event-gnn", input_dims=8, **options).eval()
    cpu_model.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    with torch.no_grad():
        torch.testing.assert_close(
            model(x.to(cuda), batch.to(cuda)).cpu(), cpu_model(x, batch), atol=1e-4, rtol=1e-4
        )
