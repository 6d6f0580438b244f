"""Event graphs: an event's reconstructed objects as the nodes of one graph.

Rows come from ``hepml reconstruct --level events`` (one row per event with its
jagged ``objects``: type, pt, eta, phi, mass). Each object is a node with

====================  ==========================================================
features              meaning
====================  ==========================================================
``is_jet`` … ``is_met``  one-hot of the type (jet, electron, muon, photon, MET)
``log_pt``            :math:`\\log p_T` (GeV)
``eta``               pseudorapidity (0 for MET)
``sin_phi, cos_phi``  azimuth, continuous across :math:`\\pm\\pi`
``log_mass``          :math:`\\log(1 + m)` (GeV)
====================  ==========================================================

and ``pos`` = (eta, phi). Edges are made by the model (the event GNN joins every
pair of objects). :class:`EventGraphs` has the API of
:class:`hepml.graphs.JetGraphs` (``batch``, ``node_mask``, indexing), so the
training loop treats jets and events alike.

Example::

    rows = load_rows("ttbar_events.parquet", "wjets_events.parquet")   # hepml.graphs.load_rows
    data = EventGraphs(rows)
    batch = data.batch(range(64))
"""

from __future__ import annotations

from collections.abc import Sequence

import awkward as ak
import numpy as np
import torch

from hepml.errors import InputError
from hepml.graphs.jets import JetGraphs
from hepml.reco.objects import EVENT_NODE_FEATURES, node_features

__all__ = ["EVENT_NODE_FEATURES", "EventGraphs", "graphs_of", "is_event_rows", "node_features"]


def is_event_rows(rows: ak.Array) -> bool:
    """Whether ``rows`` are event rows (``objects``) rather than jet rows (``part``)."""
    return "objects" in rows.fields


class EventGraphs(JetGraphs):
    """Events as graphs of their objects; see the module docstring."""

    def __init__(
        self, rows: ak.Array, features: Sequence[str] = EVENT_NODE_FEATURES, source: str = ""
    ) -> None:
        if not is_event_rows(rows):
            raise InputError(
                f"{source or 'rows'}: not event rows (no 'objects'); write them with "
                "'hepml reconstruct --level events'"
            )
        obj = rows.objects
        counts = ak.to_numpy(ak.num(obj)).astype(np.int64)
        self.offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(counts)]))
        t = ak.to_numpy(ak.flatten(obj["type"])).astype(np.int64)
        pt = ak.to_numpy(ak.flatten(obj.pt)).astype(np.float64)
        eta = ak.to_numpy(ak.flatten(obj.eta)).astype(np.float64)
        phi = ak.to_numpy(ak.flatten(obj.phi)).astype(np.float64)
        mass = ak.to_numpy(ak.flatten(obj.mass)).astype(np.float64)
        self.x = torch.from_numpy(node_features(t, pt, eta, phi, mass, features))
        self.pos = torch.from_numpy(np.stack([eta, phi], 1).astype(np.float32))
        self.y = torch.from_numpy(ak.to_numpy(rows.label).astype(np.int64))
        self.weight = torch.from_numpy(ak.to_numpy(rows.weight).astype(np.float32))
        zeros = np.zeros(len(rows), dtype=np.int64)
        self.ids = torch.from_numpy(
            np.stack(
                [
                    ak.to_numpy(rows.file_index).astype(np.int64),
                    ak.to_numpy(rows.entry).astype(np.int64),
                    zeros,
                ],
                1,
            )
        )
        self.features = tuple(features)


def graphs_of(rows: ak.Array, features: Sequence[str] | None = None) -> JetGraphs:
    """:class:`JetGraphs` of jet rows or :class:`EventGraphs` of event rows, with
    ``features`` (``None``: all of the kind's node features)."""
    from hepml.reco import FEATURE_NAMES

    if is_event_rows(rows):
        return EventGraphs(rows, features or EVENT_NODE_FEATURES)
    return JetGraphs(rows, features or FEATURE_NAMES)
