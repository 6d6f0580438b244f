"""``hepml inspect FILE...``: what a ROOT file holds and how hepml reads it."""

from __future__ import annotations

import argparse

from rich.table import Table

from hepml.errors import HepmlError
from hepml.io import inspect_file
from hepml.io.reader import expand_paths

__all__ = ["add_parser", "run"]

HELP = """Describe ROOT files: trees and entries, compression, the detected schema,
hepml's collections with their fields, and branches the schema expected but did
not find.

example:
  hepml inspect ../shared/data/*.root
"""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "inspect",
        help="describe ROOT files as hepml reads them",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="ROOT files or globs")
    p.add_argument(
        "--schema",
        default="auto",
        help="schema to apply: hepml, nanoaod, delphes, flat or a YAML mapping file "
        "(default: auto-detect)",
    )
    p.add_argument("--tree", default=None, help="tree to describe (default: the schema's own)")
    p.add_argument(
        "--fields", type=int, default=12, help="fields to list per collection (default 12)"
    )
    p.set_defaults(run=run)
    return p


def run(args, ui) -> int:
    from rich.markup import escape

    if args.fields < 0:
        raise HepmlError(f"--fields must be 0 or more, got {args.fields}")
    failed = 0
    for path in expand_paths(args.files):
        try:
            d = inspect_file(path, schema=args.schema, tree=args.tree)
        except HepmlError as err:  # (say so and describe the other files)
            ui.error(str(err))
            failed += 1
            continue
        ui.print(f"[bold]{escape(str(d.path))}[/]  ({d.size_bytes / 1e6:.2f} MB, compression "
                 f"{escape(str(d.compression))})", markup=True)  # fmt: skip
        trees = ", ".join(f"{n} [{c}, {e} entries]" for n, (c, e) in d.trees.items())
        ui.print(f"  trees: {trees}")
        ui.print(
            escape(f"  reading tree {d.tree!r}: {d.entries} entries, {d.branches} branches, ")
            + f"schema: [bold]{escape(d.schema or 'unknown (pass --schema or a YAML mapping)')}[/]",
            markup=True,
        )
        if d.collections:
            table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
            table.add_column("  collection")
            table.add_column("fields")
            for name, fields in d.collections.items():
                shown = fields[: args.fields]
                more = f" … (+{len(fields) - len(shown)})" if len(fields) > len(shown) else ""
                table.add_row(f"  {name}", ", ".join(shown) + more)
            ui.print(table)
        if d.missing:
            ui.print(f"  expected but not found: {', '.join(d.missing)}")
    return 2 if failed else 0
