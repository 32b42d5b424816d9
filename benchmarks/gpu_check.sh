#!/usr/bin/env bash
# GPU check (benchmarks/gpu_check.py): bf16 training throughput against sentence-transformers, MFU,
# encoding throughput in fp32 and bf16, peak GPU memory. One GPU, no network, a few minutes.
#
#   benchmarks/gpu_check.sh            # the full check on the GPU pick_device() chooses (SENTEMB_DEVICE)
#   benchmarks/gpu_check.sh --dry      # tiny model on the CPU in well under a minute (also DRY=1)
#
# PYTHON (default .venv/bin/python, else python3), GPU_CHECK_TIMEOUT (seconds, default 450),
# SENTEMB_PEAK_BF16_TFLOPS (peak of a GPU missing from the table), SENTEMB_GPU_CHECK_SENTENCES or
# --sentences FILE (else the prepared or mirrored wiki1m, else synthetic sentences).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
# This checkout's code, whatever the environment has installed; nothing may reach the network.
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false SENTEMB_PROGRESS=0
limit="${GPU_CHECK_TIMEOUT:-450}"

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] && commit="$commit-dirty"
echo "== sentemb GPU check: commit $commit, $(date -u +%Y-%m-%dT%H:%M:%SZ), host $(hostname), python $PYTHON"
if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi -L || true; else echo "nvidia-smi: not found"; fi

rc=0
timeout --kill-after=15 "$limit" "$PYTHON" benchmarks/gpu_check.py "$@" || rc=$?
if [[ $rc -eq 124 || $rc -eq 137 ]]; then echo "gpu_check: stopped after ${limit}s (GPU_CHECK_TIMEOUT)" >&2; fi
exit "$rc"
