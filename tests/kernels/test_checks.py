"""Every batch kernel refuses buffers it would read (or write) outside of: offsets past
the content, decreasing offsets, content arrays of different lengths (the kernels do
not check bounds inside their loops; a wrong call read garbage or crashed)."""

from __future__ import annotations

import numpy as np
import pytest

from hepml.kernels import cluster, features, isolation, knn, smear, substructure, trigger

N = 10
F = np.linspace(1.0, 2.0, N)  # (positive: valid momenta, energies, pT)
IDS = np.ones(N, dtype=np.int32)


def _calls(off, short):
    """Each kernel called with ``off`` as offsets and ``short`` as its second array."""
    f, s = F, short
    e = F * 3.0
    entries = np.zeros(len(off) - 1, dtype=np.int64)
    return {
        "cluster_batch": lambda: cluster.cluster_batch(f, s, f, e, off, 0.4, -1),
        "exclusive_batch": lambda: cluster.exclusive_batch(f, s, f, e, off, 0.4, 1, 2),
        "cluster_history_batch": lambda: cluster.cluster_history_batch(f, s, f, e, off, 0.4, 0),
        "first_nonfinite": lambda: cluster.first_nonfinite(f, s, f, e, off),
        "nsubjettiness_batch": lambda: substructure.nsubjettiness_batch(f, s, f, e, off),
        "soft_drop_batch": lambda: substructure.soft_drop_batch(f, s, f, e, off),
        "jet_mass_batch": lambda: substructure.jet_mass_batch(f, s, f, e, off),
        "jet_particle_features": lambda: features.jet_particle_features(
            f, s, f, e, IDS, IDS, off, *(np.ones(len(off) - 1) for _ in range(4)), 0
        ),
        "knn_edges": lambda: knn.knn_edges(f, s, off, 3),
        "ht_kernel": lambda: trigger.ht_kernel(f, s, off, 0.0, 5.0),
        "mht_kernel": lambda: trigger.mht_kernel(f, s, f, off, 0.0, 5.0),
        "count_kernel": lambda: trigger.count_kernel(f, s, off, 0.0, 5.0),
        "leading_kernel": lambda: trigger.leading_kernel(f, s, off, 0, -1.0),
        "pair_mass_kernel": lambda: trigger.pair_mass_kernel(f, s, f, f, off, -1.0),
        "max_pair_mass_kernel": lambda: trigger.max_pair_mass_kernel(
            f, s, f, f, off, 0.0, 5.0, -1.0
        ),
        "relative_isolation_kernel": lambda: isolation.relative_isolation_kernel(
            f, s, f, off, np.ones(N, np.bool_), 0.3
        ),
        "smear_kernel": lambda: smear.smear_kernel(
            f, s, f, e, IDS, IDS, off, smear.DEFAULT_PARAMS, 1, entries
        ),
    }


GOOD = np.array([0, 4, N], dtype=np.int64)
NAMES = list(_calls(GOOD, F))


@pytest.mark.parametrize("name", NAMES)
def test_batch_kernels_refuse_buffers_they_would_overrun(name):
    _calls(GOOD, F)[name]()  # (consistent buffers: runs)
    bad = {
        "past the end": (np.array([0, 4, 4000], dtype=np.int64), F),
        "negative": (np.array([-3, 4, N], dtype=np.int64), F),
        "decreasing": (np.array([0, 8, 4, N], dtype=np.int64), F),
        "a short array": (GOOD, F[:2]),
    }
    for why, (off, second) in bad.items():
        with pytest.raises(ValueError, match=r"offsets|differ in length"):
            _calls(off, second)[name]()
        assert why  # (named for the failure report)


def test_knn_kernel_refuses_k_below_one():
    off = np.array([0, 5], dtype=np.int64)
    for k in (0, -2):
        with pytest.raises(ValueError, match="k must be at least 1"):
            knn.knn_edges(F[:5], F[:5], off, k)


def test_no_jitted_function_calls_a_parallel_kernel():
    """A cached njit function that calls a ``parallel=True`` one can segfault when it is
    loaded from Numba's cache in a later session (numba issue 8578: ``cluster()`` then
    ``cluster(n_jets=2)`` in two sessions crashed the third); functions that combine
    parallel kernels are plain Python. Checked on the source of every kernel module."""
    import ast
    from pathlib import Path

    import hepml.kernels as kernels_pkg

    def jit_kind(node):
        for d in node.decorator_list:
            call = d if isinstance(d, ast.Call) else None
            name = ast.unparse(call.func if call else d)
            if name.endswith("njit") or name.endswith("jit"):
                parallel = call is not None and any(
                    k.arg == "parallel" and getattr(k.value, "value", False) for k in call.keywords
                )
                return "parallel" if parallel else "jit"
        return None

    funcs = {}
    for path in Path(kernels_pkg.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                funcs[node.name] = (jit_kind(node), node, path.name)
    parallel = {n for n, (kind, _, _) in funcs.items() if kind == "parallel"}
    assert {"_jets_batch_loop", "soft_drop_details_batch", "smear_kernel"} <= parallel
    bad = []
    for name, (kind, node, file) in funcs.items():
        if kind is None:
            continue
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id in parallel
                and call.func.id != name
            ):
                bad.append(f"{file}: {name} calls {call.func.id}")
    assert not bad, bad
