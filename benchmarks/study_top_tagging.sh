#!/usr/bin/env bash
# The top-tagging study of benchmarks/RESULTS.md ("Top tagging — physics figures", issue 4)
# as one script of hepml commands: generate -> smear + reconstruct -> train ParticleNet-Lite,
# PFN and the substructure BDT on the same split -> evaluate them on the same test jets plus
# two independent QCD samples, with each rejection as a multiple of the BDT's.
#
#   bash benchmarks/study_top_tagging.sh                 # the full study (hours on 2 cores)
#   SCALE=0.05 PN_EPOCHS=2 PFN_EPOCHS=1 bash benchmarks/study_top_tagging.sh  # a check run
#
# Settings (environment): OUT (study_top), SCALE (1 = the events of RESULTS.md: five pairs
# of 72,000 tt̄ + 46,000 QCD events, and two independent samples of 60,000 QCD events),
# PAIRS (5), JOBS (cores for generation and reconstruction; default: all), DEVICE (auto),
# PN_EPOCHS (16), PFN_EPOCHS (8), HEPML (the hepml command; default .venv/bin/hepml, else
# the one on PATH).
# A step whose output exists is skipped, so an interrupted study continues where it
# stopped (an interrupted training run resumes from its last checkpoint).
#
# Time on the 2-core VM at SCALE=1: about 25 min per pair to generate and reconstruct,
# 10 min per QCD sample, ParticleNet-Lite about 60-95 min (16 epochs of 177k jets),
# PFN 5 min, BDT under a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-study_top}
SCALE=${SCALE:-1}
PAIRS=${PAIRS:-5}
JOBS=${JOBS:-$(nproc)}
DEVICE=${DEVICE:-auto}
PN_EPOCHS=${PN_EPOCHS:-16}
PFN_EPOCHS=${PFN_EPOCHS:-8}
HEPML=${HEPML:-$PWD/.venv/bin/hepml}
[ -x "$HEPML" ] || HEPML=$(command -v hepml) || { echo "no hepml: run make test (or pip install hepml) first" >&2; exit 2; }
mkdir -p "$OUT"
cd "$OUT"
start=$(date +%s)
say() { echo "== $* ($(($(date +%s) - start)) s)"; }
events() { python3 -c "print(max(1, round($1 * $SCALE)))"; }

# sample NAME PROCESS EVENTS GEN_SEED SMEAR_SEED [generate options]: NAME.root -> NAME.parquet
sample() {
    local name=$1 process=$2 n=$3 seed=$4 smear=$5
    shift 5
    if [ ! -f "$name.root" ]; then
        say "generate $name: $n $process events, seed $seed"
        "$HEPML" generate --process "$process" -n "$n" --seed "$seed" -j "$JOBS" \
            -o "$name.root" "$@"
    fi
    if [ ! -f "$name.parquet" ]; then
        say "reconstruct $name (smeared, seed $smear)"
        "$HEPML" reconstruct "$name.root" --smear --seed "$smear" -j "$JOBS" -o "$name.parquet"
    fi
}

# tt̄ with pT-hat 520-720 GeV and QCD dijets with pT-hat 500-720 GeV, so that both fill
# hepml reconstruct's default jet selection (anti-kt R = 0.8, 550 < pT < 650 GeV, |eta| < 2)
gen_seeds=(101 401 501 601 701 801 901 1001 1101 1201)
files=()
for ((i = 0; i < PAIRS; i++)); do
    g=${gen_seeds[$i]:-$((101 + 100 * i))}
    sample "top$i" ttbar "$(events 72000)" "$g" $((11 + 2 * i)) --pthat-min 520 --pthat-max 720
    sample "qcd$i" qcd "$(events 46000)" $((g + 1)) $((12 + 2 * i)) --pthat-min 500 --pthat-max 720
    files+=("top$i.parquet" "qcd$i.parquet")
done
# independent QCD, never trained on: 1/eps_B of thousands needs more background than a split
sample qcd_more1 qcd "$(events 60000)" 777 7 --pthat-min 500 --pthat-max 720
sample qcd_more2 qcd "$(events 60000)" 888 8 --pthat-min 500 --pthat-max 720

common=(--data "${files[@]}" --seed 1 --device "$DEVICE"
        --set "data.split=[0.7,0.1,0.2]" --set optimizer.name=adamw
        --set optimizer.lr=3e-3 --set schedule.name=onecycle)
# train NAME MODEL EPOCHS [options]: resumes an interrupted run, skips a finished one
train() {
    local name=$1 model=$2 epochs=$3
    shift 3
    [ -f "$name/.done" ] && return
    local resume=() network=()
    [ -f "$name/checkpoint.pt" ] && resume=(--resume)
    # (the BDT has no epochs or batches: hepml train refuses those options for it)
    [ "$model" = substructure-bdt ] || network=(--epochs "$epochs" --batch-size 256)
    say "train $model ($epochs epochs) -> $name"
    local t0
    t0=$(date +%s)
    "$HEPML" train "${common[@]}" --model "$model" "${network[@]}" -o "$name" "${resume[@]}" "$@"
    echo "$(($(date +%s) - t0)) s" > "$name/.done"
}
train bdt substructure-bdt 1
train pfn pfn "$PFN_EPOCHS"
train pnlite particlenet-lite "$PN_EPOCHS" --set data.augment=reflect

say "evaluate on the test split"
"$HEPML" evaluate pnlite pfn bdt --baseline bdt --device "$DEVICE" -o eval_test
say "evaluate on the test split + the independent QCD samples"
"$HEPML" evaluate pnlite pfn bdt --baseline bdt --device "$DEVICE" \
    --add qcd_more1.parquet qcd_more2.parquet -o eval
say "done: training times: pnlite $(cat pnlite/.done), pfn $(cat pfn/.done), bdt $(cat bdt/.done); tables in eval_test/ and eval/"
