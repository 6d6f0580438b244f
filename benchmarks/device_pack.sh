#!/usr/bin/env bash
# Packs what benchmarks/device_check.sh needs on a GPU machine with no network into
# PKG (default .devcheck/, git-ignored; about 57 MB, under the 64 MiB a call carries):
#
#   bash benchmarks/device_pack.sh TOP_ROWS.parquet QCD_ROWS.parquet [JETS=8000]
#
# The rows are `hepml reconstruct` outputs; the first JETS of each are kept. The
# wheels are for CPython 3.12 on x86_64 (that machine's python3), fetched from PyPI
# here; ray's 79 MB wheel is unpacked without its Java jars, RLlib, Serve, LLM and
# dashboard web client and recompressed with xz (25 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 TOP_ROWS.parquet QCD_ROWS.parquet [JETS]" >&2; exit 2; }
PKG=${PKG:-.devcheck}
JETS=${3:-8000}
PY=${PY:-.venv/bin/python}
mkdir -p "$PKG/whl"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" -d "$tmp" \
    ray==2.60.0 awkward==2.14.0 awkward_cpp==57 uproot==5.7.7 vector==1.9.0 \
    cramjam==2.14.0 importlib_metadata==10.2.0 lazy-importer==0.1.0 jsonschema==4.26.0 \
    jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1 \
    pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 \
    typing-inspection==0.4.5 tensorboardX==2.6.5
mv "$tmp"/ray-*.whl "$tmp/ray.zip"
cp "$tmp"/*.whl "$PKG/whl/"
mkdir "$tmp/ray"
(cd "$tmp/ray" && unzip -q ../ray.zip &&
    rm -rf ray/jars ray/rllib ray/serve ray/llm ray/dashboard/client/build &&
    tar cf - . | xz -9 -T0 > ray.tar.xz)
mv "$tmp/ray/ray.tar.xz" "$PKG/ray.tar.xz"
"$PY" - "$1" "$2" "$JETS" "$PKG" <<'EOF'
import sys

import awkward as ak

top, qcd, jets, pkg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
for name, path in (("top", top), ("qcd", qcd)):
    rows = ak.from_parquet(path)[:jets]
    ak.to_parquet(rows, f"{pkg}/{name}.parquet", compression="zstd", compression_level=19)
EOF
du -sh "$PKG"
