"""Input and output: ROOT files into hepml's event model, outputs written atomically.

* :func:`open_events` / :func:`read_events` — chunked reading of TTree and RNTuple
  files with schemas for hepml's own files, CMS NanoAOD, Delphes, flat ntuples
  and user YAML mappings (:mod:`hepml.io.schemas`).
* :func:`inspect_file` — what a file holds and how hepml reads it.
* :func:`write_root`, :func:`write_parquet` — atomic writers.
* :func:`read_runinfo` — cross-sections and counts from hepml's ``runinfo`` tree;
  :func:`event_weights_pb` — each event's rate weight in pb (pT-hat bins and biases).
* :mod:`hepml.io.generate` — Pythia 8 event generation (extra ``generate``).
"""

from __future__ import annotations

from hepml.io.inspect import FileDescription, inspect_file
from hepml.io.reader import (
    ChunkInfo,
    EventStream,
    FileReport,
    ReadSummary,
    open_events,
    read_events,
)
from hepml.io.runinfo import PtHatBin, RunInfo, event_weights_pb, read_runinfo
from hepml.io.schemas import SCHEMAS, EventMapping, Source, detect_schema, load_mapping
from hepml.io.write import write, write_parquet, write_root

__all__ = [
    "SCHEMAS",
    "ChunkInfo",
    "EventMapping",
    "EventStream",
    "FileDescription",
    "FileReport",
    "PtHatBin",
    "ReadSummary",
    "RunInfo",
    "Source",
    "detect_schema",
    "event_weights_pb",
    "inspect_file",
    "load_mapping",
    "open_events",
    "read_events",
    "read_runinfo",
    "write",
    "write_parquet",
    "write_root",
]
