#!/usr/bin/env bash
# The checks that need a lent GPU machine (an NVIDIA H200 with 16 CPU cores here), in one
# call: the CUDA tests, benchmarks/gpu_check.py (kNN on CUDA, bf16/fp32 training through
# the one loop, inference throughput, Ray Train with use_gpu=True and a Ray actor on the
# GPU), the CLI on CUDA (train, evaluate, predict, export; CPU vs CUDA scores) and
# benchmarks/bench_ray.py with 4 cores per worker (the scaling figures the
# 2-core VM cannot give). Figures go to benchmarks/RESULTS.md by hand.
#
# That machine has python3 with torch, torch_geometric, numba, pyarrow... but no Ray,
# awkward or uproot and no network, so they travel in PKG (default .devcheck/, ignored;
# `bash benchmarks/device_pack.sh TOP.parquet QCD.parquet` makes it):
#   PKG/ray.tar.xz     ray 2.60 for cp312 unpacked, without jars/rllib/serve/llm/dashboard
#                      client (the wheel is 79 MB; this is 25 MB)
#   PKG/whl/*.whl      awkward, awkward_cpp, uproot, vector, cramjam, importlib_metadata,
#                      jsonschema (+ its deps), pydantic (+ its deps), tensorboardX: cp312
#   PKG/top.parquet, PKG/qcd.parquet   `hepml reconstruct` jet rows (8,000 of each)
# and the command is `bash benchmarks/device_check.sh` with OUT set (the tool sets it).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/device-check}
PKG=${PKG:-.devcheck}
SITE=${SITE:-/tmp/hepml-site}
mkdir -p "$OUT" "$SITE"
start=$(date +%s)
stamp() { echo "== $1 (t = $(($(date +%s) - start)) s)"; }

stamp "install"
[ -f "$PKG/ray.tar.xz" ] && tar xJf "$PKG/ray.tar.xz" -C "$SITE"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" \
    "$PKG"/whl/*.whl || exit 1
export PYTHONPATH="$SITE" PYTHONUNBUFFERED=1 RAY_USAGE_STATS_ENABLED=0
# hepml itself, editable (hepml.kernels lives in kernels/; Ray workers import it too)
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/env.txt"
python3 - <<'EOF' | tee -a "$OUT/env.txt"
import os, sys
import awkward, numba, numpy, ray, torch, torch_geometric, uproot
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, torch_geometric "
      f"{torch_geometric.__version__}, numba {numba.__version__}, numpy {numpy.__version__}, "
      f"ray {ray.__version__}, awkward {awkward.__version__}, uproot {uproot.__version__}, "
      f"{os.cpu_count()} CPU cores, CUDA {torch.cuda.is_available()}")
EOF

STEPS=${STEPS:-"tests gpu cli ray"}  # a subset to rerun part of it

[[ " $STEPS " == *" tests "* ]] && stamp "CUDA tests" && timeout 100 python3 -m pytest -m gpu tests/models -q -p no:cacheprovider \
    -W ignore::DeprecationWarning 2>&1 | tee "$OUT/pytest_gpu.log"

[[ " $STEPS " == *" gpu "* ]] && stamp "gpu_check" && timeout 200 python3 benchmarks/gpu_check.py --data "$PKG/top.parquet" "$PKG/qcd.parquet" \
    --repeat 4 --epochs 2 --ray --budget-s 120 --out "$OUT/gpu_check.json" 2>&1 |
    grep -v "Failed to query Ray Train" | tee "$OUT/gpu_check.log" | grep -v "^.\[36m" | tail -40

# a user's commands on CUDA (train, evaluate with --add/--baseline, predict, export), then
# one model's test scores on the CPU and on CUDA in fp32 and bf16
if [[ " $STEPS " == *" cli "* ]]; then
    stamp "CLI on CUDA"
    H="python3 -m hepml.cli.main"
    C=/tmp/hepml-cli
    rm -rf $C && mkdir -p $C
    for m in particlenet-lite pfn; do
        timeout 120 $H train --data "$PKG/top.parquet" "$PKG/qcd.parquet" --model $m --epochs 3 \
            --device cuda --set schedule.name=onecycle --set optimizer.lr=3e-3 -o $C/$m -q 2>&1 | tail -2
    done
    timeout 120 $H train --data "$PKG/top.parquet" "$PKG/qcd.parquet" --model substructure-bdt \
        -o $C/substructure-bdt -q 2>&1 | tail -2
    cp "$PKG/qcd.parquet" $C/qcd_copy.parquet  # (stands for an independent sample)
    timeout 120 $H evaluate $C/particlenet-lite $C/pfn $C/substructure-bdt --add $C/qcd_copy.parquet \
        --baseline $C/substructure-bdt --device cuda --no-plots -o "$OUT/eval" 2>&1 | tail -8
    timeout 60 $H predict $C/particlenet-lite "$PKG/top.parquet" -o $C/s.parquet --device cuda 2>&1 | tail -1
    timeout 60 $H export $C/particlenet-lite -o $C/pn.onnx 2>&1 | tail -1
    timeout 120 python3 - $C/particlenet-lite/best.pt <<'EOF2' 2>&1 | tee "$OUT/cpu_vs_cuda.log"
import sys

import numpy as np

from hepml.train import evaluate_checkpoint, load_checkpoint

ck = load_checkpoint(sys.argv[1])
score = {}
for dev, prec in (("cpu", "fp32"), ("cuda", "fp32"), ("cuda", "bf16")):
    ck["config"]["precision"] = prec
    r = evaluate_checkpoint(ck, "test", device=dev)
    score[dev, prec] = r.score
    print(f"{dev} {prec}: test AUC {r.metrics['auc']:.5f}, 1/eB@0.3 {r.metrics['rej30']:.1f}")
for key in (("cuda", "fp32"), ("cuda", "bf16")):
    d = np.abs(score[key] - score["cpu", "fp32"])
    print(f"{' '.join(key)} vs cpu fp32, {len(d)} jets: |diff| max {d.max():.2e}, "
          f"mean {d.mean():.2e}, 99th percentile {np.quantile(d, 0.99):.2e}")
EOF2
fi

[[ " $STEPS " == *" ray "* ]] && stamp "bench_ray" && timeout 270 python3 benchmarks/bench_ray.py --data "$PKG/top.parquet" "$PKG/qcd.parquet" \
    --jets 8000 --cpus-per-worker 4 2>&1 | grep -v "Failed to query Ray Train" |
    tee "$OUT/bench_ray.log" | grep -v "^.\[36m" | tail -30
stamp "done"
