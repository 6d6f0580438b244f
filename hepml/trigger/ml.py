"""ML trigger paths: a trained hepml model scoring one object of each event.

Two kinds of object: a fat jet (``fatjets[0]``, ``fatjets[1]``, or the best of
``fatjets[:2]``), scored by a jet tagger (:class:`MLScorer`), or the whole event
(``event``), scored by an event-level model on the graph of its jets, electrons,
muons, photons and MET (:class:`EventScorer`). :func:`scorer` picks the class.

The checkpoint (``hepml train``) is loaded once with ``weights_only=True``; the
tagger runs as TorchScript and, when ONNX Runtime is installed, as ONNX — both
are timed on the same jets at batch size 1 and the faster one is used (the
report says which). Inputs are built exactly as in training: the object's
constituents → :func:`hepml.reco.features.particle_features_flat` (what
:func:`hepml.reco.jet_particle_features` runs, on flat buffers, so that one event
at a time stays cheap) → the model's features, standardised inside the exported
model.

Example::

    scorer = MLScorer("runs/pn/best.pt")
    scores = scorer.score(objects, mask)     # NaN where mask is False or no object
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings

import awkward as ak
import numpy as np
import torch

from hepml.errors import ConfigError, HepmlError, InputError
from hepml.reco._buffers import counts_to_offsets, event_index, flat, offsets_of
from hepml.reco.features import FEATURE_NAMES, particle_features_flat

__all__ = ["EventScorer", "MLScorer", "scorer"]


def scorer(path: str | os.PathLike, object: str = "fatjets[0]", **options) -> MLScorer:
    """The scorer of an ML path: :class:`EventScorer` for ``object="event"``, else
    :class:`MLScorer` (``options``: ``backend``, ``batch_size``, ...)."""
    cls = EventScorer if object == "event" else MLScorer
    return cls(path, object, **options)


def training_reconstruction(ckpt: dict) -> dict:
    """The reconstruction settings of a model's training rows: recorded in the
    checkpoint, or (a checkpoint from before hepml recorded them) read from the
    training files' provenance where they still are; empty when unknown."""
    if "reco" in ckpt:
        return dict(ckpt["reco"] or {})
    from hepml.train.data import reconstruction_settings

    files = ((ckpt.get("config") or {}).get("data") or {}).get("files") or []
    if not files or not all(os.path.exists(f) for f in files):
        return {}
    return reconstruction_settings(files)


def _load_network(path: str) -> dict:
    from hepml.train.checkpoint import load_checkpoint

    try:
        ckpt = load_checkpoint(path)
    except HepmlError as err:
        raise ConfigError(f"ML path model: {err} (set the menu's model: or pass --model)") from None
    if ckpt.get("kind") != "torch":
        raise ConfigError(
            f"{path}: a {ckpt.get('model_name')!r} model cannot score objects in a trigger "
            "path; use a network (particlenet, particlenet-lite, pfn, event-gnn)"
        )
    return ckpt


def _is_event_model(ckpt: dict) -> bool:
    """Whether a checkpoint was trained on event graphs: told by its input features
    (the model name decides when they fit both kinds, e.g. only ``log_pt``)."""
    from hepml.reco.objects import EVENT_NODE_FEATURES

    used = set(ckpt["features"])
    event, jet = used <= set(EVENT_NODE_FEATURES), used <= set(FEATURE_NAMES)
    return event if event != jet else "event" in str(ckpt["model_name"])


class MLScorer:
    """Scores ``objects.fatjets[i]`` of selected events with a hepml checkpoint."""

    def __init__(
        self,
        path: str | os.PathLike,
        object: str = "fatjets[0]",
        backend: str = "auto",
        batch_size: int = 512,
        max_padded: int = 8192,
    ) -> None:
        self.path = os.fspath(path)
        self.ckpt = _load_network(self.path)
        self.model_name = self.ckpt["model_name"]
        self.features = list(self.ckpt["features"])
        self._configure(self.ckpt, object)
        self.batch_size = batch_size
        # ONNX runs the padded form: a batch holds at most this many particle slots
        # (jets x longest jet), which bounds ONNX Runtime's memory arena
        self.max_padded = max_padded
        self._torch = None
        self._onnx = None
        self.backend = self._choose(backend)

    def _configure(self, ckpt: dict, object: str) -> None:
        """Check that ``ckpt`` can score ``object`` and note what its inputs need."""
        if _is_event_model(ckpt):
            raise ConfigError(
                f"{self.path}: {ckpt['model_name']} is an event-level model, not a jet tagger; "
                "score it with object: event"
            )
        unknown = [f for f in self.features if f not in FEATURE_NAMES]
        if unknown:
            raise ConfigError(
                f"{self.path}: the model was trained on particle features {unknown} that a "
                f"trigger path cannot build; it knows {list(FEATURE_NAMES)}"
            )
        #: the particle cap of the training rows (hepml reconstruct --max-particles): the
        #: trigger's jets are cut alike, hardest first
        self.max_particles = training_reconstruction(ckpt).get("max_particles")
        # "fatjets[0]", "fatjets[1]": that jet; "fatjets[:2]": the higher score of the two
        from hepml.trigger.menu import ML_OBJECTS

        if object not in ML_OBJECTS or object == "event":
            raise ConfigError(
                f"{self.path}: object {object!r}: a jet tagger scores one of "
                f"{[o for o in ML_OBJECTS if o != 'event']}"
            )
        inner = object.split("[")[1].rstrip("]")
        self.indices = list(range(int(inner[1:]))) if inner.startswith(":") else [int(inner)]
        self.index = self.indices[0]

    # ------------------------------------------------------------------ backends
    def _torchscript(self):
        if self._torch is None:
            from hepml.train.export import _wrapped

            self._torch = torch.jit.script(_wrapped(self.ckpt, dense=False))
        return self._torch

    def _onnx_tagger(self):
        if self._onnx is None:
            from hepml.train.export import OnnxTagger, export_checkpoint

            # ONNX Runtime reads the model into memory: the file is not needed afterwards
            with tempfile.TemporaryDirectory(prefix="hepml-trigger-") as tmp:
                path = os.path.join(tmp, "model.onnx")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the exporter's tracer notes
                    export_checkpoint(self.ckpt, path)
                self._onnx = OnnxTagger(path, threads=1)
        return self._onnx

    def _choose(self, backend: str) -> str:
        if backend not in ("auto", "torchscript", "onnx"):
            raise ConfigError(f"backend must be auto, torchscript or onnx, got {backend!r}")
        if backend != "auto":
            return backend
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError:
            return "torchscript"
        rng = np.random.default_rng(0)
        n = 50
        x = torch.from_numpy(rng.normal(size=(n, len(self.features))).astype(np.float32))
        pos = torch.from_numpy(rng.normal(scale=0.3, size=(n, 2)).astype(np.float32))
        batch = torch.zeros(n, dtype=torch.long)
        usable = []
        for name in ("torchscript", "onnx"):
            self.backend = name
            try:
                for _ in range(5):  # warm up (TorchScript optimises after its first runs)
                    self._run(x, pos, batch)
            except Exception:  # an exporter limitation: keep the other backend
                continue
            usable.append(name)
        if len(usable) < 2:  # nothing to compare (the event GNN has no ONNX form)
            self.timings_s = {}
            return usable[0] if usable else "torchscript"
        # the two take turns, so that a slow spell of the machine hits both alike
        samples: dict[str, list[float]] = {name: [] for name in usable}
        for _ in range(40):
            for name in usable:
                self.backend = name
                t0 = time.perf_counter()
                self._run(x, pos, batch)
                samples[name].append(time.perf_counter() - t0)
        times = {name: float(np.median(t)) for name, t in samples.items()}
        self.timings_s = times
        return min(times, key=times.get) if times else "torchscript"

    def _run(self, x: torch.Tensor, pos: torch.Tensor, batch: torch.Tensor) -> np.ndarray:
        if self.backend == "onnx":
            tagger = self._onnx_tagger()
            if len(batch) and int(batch[-1]) == 0:  # one jet (batch size 1): no padding
                mask = np.ones((1, len(batch)), dtype=bool)
                return tagger.run_dense(x.numpy()[None], pos.numpy()[None], mask)[:, -1]
            return np.asarray(tagger(x, pos, batch))[:, -1]
        with torch.inference_mode():
            return self._torchscript()(x, pos, batch)[:, -1].numpy()

    def _batches(self, counts: np.ndarray) -> list[tuple[int, int]]:
        """``[lo, hi)`` ranges of consecutive jets: at most ``batch_size`` jets, and for
        ONNX (padded to the longest jet) at most ``max_padded`` particle slots."""
        limit = self.max_padded if self.backend == "onnx" else np.inf
        out, lo, longest = [], 0, 0
        for i, c in enumerate(counts.tolist()):
            if i > lo and (i - lo >= self.batch_size or (i - lo + 1) * max(longest, c) > limit):
                out.append((lo, i))
                lo, longest = i, 0
            longest = max(longest, c)
        if lo < len(counts):
            out.append((lo, len(counts)))
        return out

    # ------------------------------------------------------------------ inputs
    def _buffers(self, objects: ak.Array) -> dict[str, np.ndarray]:
        """The flat arrays the inputs are built from (read once per chunk)."""
        if "particles" not in objects.fields:
            raise InputError(
                "an ML path needs the events' particles (hepml generator files, or NanoAOD "
                "with PFCands) to build the jet's inputs"
            )
        fatjets = objects.fatjets
        if "constituents" not in ak.fields(fatjets):
            raise InputError(
                "an ML path needs fat jets with their constituents (built from particles); "
                "these fat jets come from the file without them"
            )
        particles = objects.particles
        cons = ak.flatten(fatjets.constituents, axis=1)  # every jet's particle indices
        b = {
            "p_off": offsets_of(particles),
            "j_off": offsets_of(fatjets),
            "c_off": offsets_of(cons),
        }
        b["local"] = ak.to_numpy(ak.flatten(cons)).astype(np.int64)
        for f in ("px", "py", "pz", "E"):
            b[f] = flat(particles, f)
        for f in ("charge", "pid"):
            b[f] = flat(particles, f, np.int32)
        for f in ("pt", "eta", "phi", "mass"):
            b["jet_" + f] = flat(fatjets, f)
        return b

    def inputs(
        self,
        objects: ak.Array,
        index: int | None = None,
        mask: np.ndarray | None = None,
        buffers: dict[str, np.ndarray] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """Per-particle inputs of ``fatjets[index]`` of every event (where ``mask``):
        flat ``x`` (n, F), ``pos`` (n, 2) and the number of particles per event (0: no
        such jet, or not in ``mask``).

        The same values as :func:`hepml.reco.jet_particle_features` of that jet, built
        on flat buffers with the features kernel: a fixed number of array calls per
        chunk, which is what one event at a time, as a trigger runs, needs.
        """
        index = self.index if index is None else index
        b = self._buffers(objects) if buffers is None else buffers
        p_off, j_off, c_off = b["p_off"], b["j_off"], b["c_off"]
        has = np.diff(j_off) > index
        if mask is not None:
            has &= np.asarray(mask, dtype=bool)
        rows = j_off[:-1][has] + index  # the chosen jet of each event that has one
        per_jet = c_off[rows + 1] - c_off[rows]
        jet_offsets = counts_to_offsets(per_jet)
        take = np.repeat(c_off[rows] - jet_offsets[:-1], per_jet) + np.arange(jet_offsets[-1])
        glob = b["local"][take] + np.repeat(p_off[:-1][has], per_jet)
        px, py, pz, e, charge, pid = (b[f][glob] for f in ("px", "py", "pz", "E", "charge", "pid"))
        jet = [b["jet_" + f][rows] for f in ("pt", "eta", "phi", "mass")]
        feats, _, out_offsets = particle_features_flat(
            px, py, pz, e, charge, pid, jet_offsets, *jet, self.max_particles
        )
        counts = np.zeros(len(p_off) - 1, dtype=np.int64)
        counts[has] = np.diff(out_offsets)
        x = feats[:, [FEATURE_NAMES.index(f) for f in self.features]].astype(np.float32)
        pos = feats[:, [FEATURE_NAMES.index("deta"), FEATURE_NAMES.index("dphi")]]
        return torch.from_numpy(x), torch.from_numpy(pos.astype(np.float32)), counts

    def score(self, objects: ak.Array, mask: np.ndarray | None = None) -> np.ndarray:
        """P(signal) of the object in each event where ``mask`` (the highest over the
        objects for ``fatjets[:N]``); NaN elsewhere or where the event has no such object."""
        n = len(objects)
        out = np.full(n, np.nan)
        if mask is not None and not np.any(mask):
            return out
        buffers = self._buffers(objects)
        for index in self.indices:
            out = np.fmax(out, self._score_one(objects, mask, index, buffers))
        return out

    def _score_one(self, objects, mask, index: int, buffers) -> np.ndarray:
        x, pos, counts = self.inputs(objects, index, mask, buffers)
        return self._score_graphs(x, pos, counts)

    def _score_graphs(self, x: torch.Tensor, pos: torch.Tensor, counts: np.ndarray) -> np.ndarray:
        """Scores of the graphs given as node rows ``x``/``pos`` and nodes per event
        (``counts``, 0: no graph, NaN), run in batches (:meth:`_batches`)."""
        out = np.full(len(counts), np.nan)
        offsets = counts_to_offsets(counts)
        graphs = np.flatnonzero(counts > 0)
        scores = np.empty(len(graphs))
        for lo, hi in self._batches(counts[graphs]):
            chunk = graphs[lo:hi]
            a, b = offsets[chunk[0]], offsets[chunk[-1] + 1]
            batch = torch.from_numpy(
                np.repeat(np.arange(len(chunk)), counts[chunk]).astype(np.int64)
            )
            scores[lo:hi] = self._run(x[a:b], pos[a:b], batch)
        out[graphs] = scores
        return out


class EventScorer(MLScorer):
    """Scores the graph of each selected event's objects — jets, electrons, muons,
    photons, then MET, the nodes ``hepml reconstruct --level events`` writes — with
    an event-level checkpoint (``event-gnn``). Node features are built by
    :func:`hepml.reco.objects.node_features`, the function training uses."""

    def __init__(self, path: str | os.PathLike, object: str = "event", **options) -> None:
        # (the event GNN has no ONNX form: backend "auto" finds that out, keeps TorchScript)
        super().__init__(path, object, **options)

    def _configure(self, ckpt: dict, object: str) -> None:
        if not _is_event_model(ckpt):
            raise ConfigError(
                f"{self.path}: {ckpt['model_name']} is a jet tagger (trained on particle "
                "features); object: event needs an event-level model (hepml reconstruct "
                "--level events, then hepml train --model event-gnn)"
            )
        self.indices = [0]
        self.index = 0

    def inputs(
        self, objects: ak.Array, mask: np.ndarray | None = None
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Node features ``x`` (n, F) of the events where ``mask`` (all by default), and
        the number of nodes per event (0 where not in ``mask``; MET makes it >= 1)."""
        from hepml.reco.objects import node_features
        from hepml.trigger.menu import EVENT_GRAPH_COLLECTIONS

        missing = [c for c in EVENT_GRAPH_COLLECTIONS if c not in objects.fields]
        if missing:
            raise InputError(f"an event ML path needs the collections {missing}")
        n = len(objects)
        parts = []  # per collection: (type, flat index of the event, pt, eta, phi, mass)
        for t, name in enumerate(EVENT_GRAPH_COLLECTIONS[:-1]):
            c = objects[name]
            if "isolated" in ak.fields(c):  # (the event rows hold isolated leptons only)
                c = c[c.isolated]
            off = offsets_of(c)
            ev = event_index(off)
            mass = flat(c, "mass") if "mass" in c.fields else np.zeros(len(ev))
            parts.append((t, ev, flat(c, "pt"), flat(c, "eta"), flat(c, "phi"), mass))
        met = objects.met
        zero = np.zeros(n)
        met_pt = ak.to_numpy(met.pt).astype(np.float64)
        met_phi = ak.to_numpy(met.phi).astype(np.float64)
        parts.append((len(parts), np.arange(n), met_pt, zero, met_phi, zero))
        ev = np.concatenate([p[1] for p in parts])
        # objects of an event together, in collection order (a stable sort by event)
        order = np.argsort(ev, kind="stable")
        types = np.concatenate([np.full(len(p[1]), p[0]) for p in parts])[order]
        cols = [np.concatenate([p[k] for p in parts])[order] for k in (2, 3, 4, 5)]
        counts = np.bincount(ev, minlength=n).astype(np.int64)
        x = node_features(types, *cols, features=self.features)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            x = x[np.repeat(mask, counts)]
            counts = np.where(mask, counts, 0)
        return torch.from_numpy(x), counts

    def score(self, objects: ak.Array, mask: np.ndarray | None = None) -> np.ndarray:
        """P(signal) of each event where ``mask``; NaN elsewhere."""
        n = len(objects)
        out = np.full(n, np.nan)
        if mask is not None and not np.any(mask):
            return out
        x, counts = self.inputs(objects, mask)
        return self._score_graphs(x, x[:, :0], counts)  # (the event GNN has no pos)
