"""Describe a ROOT file as hepml sees it (``hepml inspect``).

Example::

    d = inspect_file("nano.root")
    print(d.schema, d.entries, d.collections["jets"])
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import uproot

from hepml.io.reader import _branch_names, _trees, find_tree, open_root, unreadable
from hepml.io.schemas import KINDS, EventMapping, detect_schema, mapping_for

__all__ = ["FileDescription", "inspect_file"]


@dataclass
class FileDescription:
    """What :func:`inspect_file` found."""

    path: str
    size_bytes: int
    compression: str
    trees: dict[str, tuple[str, int]]  # name -> (class, entries)
    tree: str
    schema: str | None
    entries: int
    branches: int
    collections: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def _fields(mapping: EventMapping) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, sources in mapping.collections.items():
        core = {  # (partons carry no charge column: read_events gives them none)
            "particles": ["px", "py", "pz", "E", "pid", "charge"],
            "partons": ["px", "py", "pz", "E", "pid"],
        }.get(name, list(KINDS["ptetaphim"]))
        extra = [f for s in sources for f in (*s.fields, *s.constants) if f not in core]
        extra = [f for f in dict.fromkeys(extra) if f not in KINDS[sources[0].kind]]
        out[name] = core + extra
    if mapping.met is not None:
        out["met"] = ["pt", "phi"]
    if mapping.triggers:
        out["triggers"] = list(mapping.triggers)
    out["weight"] = [mapping.scalars.get("weight", "(1.0: no weight branch)")]
    out["ids"] = [k for k in ("run", "lumi", "event") if k in mapping.scalars] + ["entry"]
    return out


def _compression(f: uproot.ReadOnlyDirectory, tree) -> str:
    """The compression of the tree's first branch (TTree), of most of an RNTuple's
    columns, or else the file setting."""
    code = f.file.fCompress
    comp = None
    if isinstance(tree, uproot.TTree) and len(tree.branches):
        comp = tree.branches[0].compression
    elif not isinstance(tree, uproot.TTree):
        try:  # (RNTuple: each column's pages carry their own setting)
            settings = [c.compression_settings for c in tree.page_link_list[0]]
        except Exception:
            settings = []
        if settings:
            comp = uproot.compression.Compression.from_code(max(set(settings), key=settings.count))
    if comp is None:
        comp = uproot.compression.Compression.from_code(code)
    if comp is None and 0 < code < 100:  # old files: algorithm 0 means ROOT's default, zlib
        comp = f"ZLIB({code})"
    text = str(comp) if comp is not None else "none"
    if isinstance(tree, uproot.TTree) and tree.compressed_bytes:
        text += f", ratio {tree.uncompressed_bytes / tree.compressed_bytes:.1f}"
    return text


def inspect_file(
    path: str | os.PathLike, *, schema: str = "auto", tree: str | None = None
) -> FileDescription:
    """Trees, entries, schema, collections and their fields, missing branches."""
    path = os.fspath(path)
    f = open_root(path)
    trees = {}
    for name, cls in _trees(f).items():
        try:
            trees[name] = (cls, int(f[name].num_entries))
        except Exception as err:
            raise unreadable(f"{path}:{name}: cannot read its entries", err) from None
    obj, tname = find_tree(f, path, tree, schema)
    names = _branch_names(obj)
    detected = detect_schema(names) if schema == "auto" else schema
    desc = FileDescription(
        path=path,
        size_bytes=os.path.getsize(path),
        compression=_compression(f, obj),
        trees=trees,
        tree=tname,
        schema=detected,
        entries=int(obj.num_entries),
        branches=len(names),
    )
    if detected is not None:
        mapping = mapping_for(detected, names, tname)
        desc.collections = _fields(mapping)
        desc.missing = mapping.missing
    return desc
