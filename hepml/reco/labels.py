"""Truth labels for jets from hepml's parton record.

A jet is a **top jet** when a hadronically decaying top and its three decay
quarks (the b, or the down-type quark of t → W q, and the two quarks of the W)
all lie within :math:`\\Delta R < 0.8` of the jet axis — the rule of the public
top-tagging benchmark (Kasieczka et al., arXiv:1902.09914; ``match="full"``, the
default). With ``match="partial"`` a jet that holds at least two of the three quarks
counts too (the W's two quarks, or the b with one of them): the partly merged tops
of 300–450 GeV, where most of a 1 TeV Z' → tt̄'s jets are — what a trigger tagger
must find. QCD jets come from the QCD sample: every selected jet of a sample
without tops is background.

Example::

    tops = hadronic_tops(events.partons)      # events * tops {top, q1, q2, q3}
    is_top = top_matched(jets, tops)          # events * jets booleans
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

from hepml.reco._buffers import counts_to_offsets

__all__ = ["DEFAULT_SELECTION", "TOP_MATCHES", "hadronic_tops", "select_jets", "top_matched"]

#: how much of a top a jet must hold to be a top jet (see the module docstring)
TOP_MATCHES = ("full", "partial")

vector.register_awkward()

#: The top-tagging benchmark's jets: 550 < pT < 650 GeV, |eta| < 2.
DEFAULT_SELECTION = {"pt_min": 550.0, "pt_max": 650.0, "eta_max": 2.0}


def _flat(x) -> np.ndarray:
    return ak.to_numpy(ak.flatten(x, axis=None))


def hadronic_tops(partons: ak.Array) -> ak.Array:
    """Hadronically decaying tops and their three quarks, per event.

    Returns ``events * tops`` records with ``top``, ``q1`` (from the top),
    ``q2``, ``q3`` (from the W), each a ``Momentum4D``. Uses the ``pid`` and
    ``mother`` fields (mother indexes the event's parton list; -1 if absent).
    """
    counts = ak.to_numpy(ak.num(partons)).astype(np.int64)
    offsets = counts_to_offsets(counts)
    pid = _flat(partons.pid).astype(np.int64)
    apid = np.abs(pid)
    base = np.repeat(offsets[:-1], counts)
    local_mother = _flat(partons.mother).astype(np.int64)
    mother = np.where(local_mother >= 0, local_mother + base, -1)
    mpid = np.where(mother >= 0, apid[np.maximum(mother, 0)], 0)
    # the first W copy of every W copy (a chain of W -> W recoil copies)
    root = np.arange(len(pid))
    is_w = apid == 24
    for _ in range(64):
        step = is_w & (mother >= 0) & (mpid == 24)
        new = np.where(step, root[np.maximum(mother, 0)], root)
        if np.array_equal(new, root):
            break
        root = new
    w_root = np.where(is_w, root, -1)
    # tops: mothers of a W root (t -> W q)
    w_from_top = is_w & (w_root == np.arange(len(pid))) & (mpid == 6)
    top_of_w = np.full(len(pid), -1)
    top_of_w[w_from_top] = mother[w_from_top]
    quark = (apid >= 1) & (apid <= 5)
    # quark from the top directly
    q_top = quark & (mpid == 6)
    # quarks from the W (any copy): their top is the top of their W's root
    q_w = quark & (mpid == 24)
    q_w_top = np.full(len(pid), -1)
    q_w_top[q_w] = top_of_w[w_root[np.maximum(mother[q_w], 0)]]
    tops = np.unique(top_of_w[w_from_top]).astype(np.int64)
    # for every top: its direct quark (first one) and its two W quarks
    q1 = _first_per_key(np.flatnonzero(q_top), mother[q_top], tops)
    w_idx = np.flatnonzero(q_w & (q_w_top >= 0))
    w_keys = q_w_top[w_idx]
    q2 = _first_per_key(w_idx, w_keys, tops)
    q3 = _first_per_key(w_idx, w_keys, tops, skip=1)
    good = (q1 >= 0) & (q2 >= 0) & (q3 >= 0) & (_count_per_key(w_keys, tops) == 2)
    tops, q1, q2, q3 = tops[good], q1[good], q2[good], q3[good]
    flat_partons = ak.flatten(partons)
    event_of_top = np.searchsorted(offsets, tops, side="right") - 1
    per_event = np.bincount(event_of_top, minlength=len(counts))

    def vec(idx):
        p = flat_partons[idx]
        return ak.zip({"px": p.px, "py": p.py, "pz": p.pz, "E": p.E}, with_name="Momentum4D")

    rec = ak.zip({"top": vec(tops), "q1": vec(q1), "q2": vec(q2), "q3": vec(q3)}, depth_limit=1)
    return ak.unflatten(rec, per_event)


def _first_per_key(
    idx: np.ndarray, keys: np.ndarray, wanted: np.ndarray, skip: int = 0
) -> np.ndarray:
    """For each of ``wanted``, the (skip+1)-th ``idx`` whose key equals it, or -1."""
    if len(idx) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    keys_sorted, idx_sorted = keys[order], idx[order]
    start = np.searchsorted(keys_sorted, wanted, side="left")
    stop = np.searchsorted(keys_sorted, wanted, side="right")
    pos = start + skip
    return np.where(pos < stop, idx_sorted[np.minimum(pos, len(idx_sorted) - 1)], -1)


def _count_per_key(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    ks = np.sort(keys)
    return np.searchsorted(ks, wanted, side="right") - np.searchsorted(ks, wanted, side="left")


def top_matched(
    jets: ak.Array, tops: ak.Array, radius: float = 0.8, match: str = "full"
) -> ak.Array:
    """``events * jets`` booleans: a top and its three quarks within ``radius`` of the
    jet (``match="full"``), or at least two of its three quarks (``"partial"``)."""
    if match not in TOP_MATCHES:
        raise ValueError(f"top match {match!r}: use one of {TOP_MATCHES}")
    pairs = ak.cartesian({"jet": jets, "t": tops}, axis=1, nested=True)
    j, t = pairs.jet, pairs.t
    quarks = [j.deltaR(q) < radius for q in (t.q1, t.q2, t.q3)]
    if match == "full":
        inside = (j.deltaR(t.top) < radius) & quarks[0] & quarks[1] & quarks[2]
    else:
        inside = sum(ak.values_astype(q, np.int32) for q in quarks) >= 2
    return ak.any(inside, axis=2)


def select_jets(jets: ak.Array, pt_min: float, pt_max: float, eta_max: float) -> ak.Array:
    """``events * jets`` booleans of the kinematic selection."""
    return (jets.pt > pt_min) & (jets.pt < pt_max) & (abs(jets.eta) < eta_max)
