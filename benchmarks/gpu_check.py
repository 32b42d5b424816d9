"""GPU check: bf16 training and encoding throughput, MFU and peak memory on one GPU, offline.

Stand-in models with the real bert-base shape: ``BertConfig()`` defaults (hidden 768, 12 layers,
12 heads, intermediate 3072, vocab 30522), random weights, saved once to a temporary directory
that both sides load; the tokenizer is bert-base-uncased's WordPiece vocabulary as shipped with
the offline all-MiniLM-L6-v2 package. Random weights train and encode at the speed trained ones
do; only the numbers they produce are meaningless.

Training (batch 64 sentences = 128 rows of at most 32 tokens, the same batches on every side):

* ours: ``sentemb.training.loop.train`` driving params.yaml's ``simcse_unsup`` recipe
  (two_view + InfoNCE tau 0.05, MLP head, [CLS]) as ``training.run.build_training`` builds it,
  under ``precision: auto`` (bf16 autocast on CUDA; forced bf16 on CPU so the dry run takes the
  same path). Three variants: the run as params.yaml configures it (gradient diagnostics on, an
  epoch of 1,000,000 examples as wiki1m), without the diagnostics, and without them on an epoch
  only as long as the timed steps (so per-epoch bookkeeping that scales with the data shows);
* sentence-transformers: ``MultipleNegativesRankingLoss(scale=20)`` (= InfoNCE with tau 0.05,
  mean pooling) with AdamW and clipping in a bare loop under bf16 autocast: the per-step work of
  ``SentenceTransformerTrainer`` (anchor and positive columns tokenized and encoded separately)
  without its dataloader.

Each side runs warm-up steps, then timed steps between CUDA synchronisations; sides alternate
over rounds (A B C D A B C D) and the best round counts. ``speedup: X.XX`` is ours / theirs.

MFU = achieved FLOP/s / peak dense bf16 FLOP/s, with FLOPs per step = 6 x N x T: N = parameters
of the encoder layers (embeddings, pooler and head excluded: lookups and per-sentence work, not
per-token matmuls), T = tokens per step counted with padding (what the GPU multiplies; the
non-pad share is printed too). 6 = 2 (multiply-add) x 3 (forward + two backward matmuls per
weight). Attention scores and softmax (12 x layers x T x seq x hidden, about 1% at seq <= 32) are
not counted. The peak comes from the table below by ``torch.cuda.get_device_name()``, or from
``SENTEMB_PEAK_BF16_TFLOPS``.

Encoding: ``SentenceEncoder.encode`` as evaluation calls it (batch 128, length-sorted, inference
mode, no truncation below the model's 512 positions) in fp32 and in bf16. The evaluation code
has no bf16 path (``evaluate.precision`` is carried in the job but nothing reads it), so bf16 is
measured with ``torch.autocast`` around ``encode``, and its vectors are compared with fp32's.

The pieces train_speed.py shares (the loop run, the sentence-transformers step, interleaving, the
token count) live in ``benchmarks/_common.py``.

    benchmarks/gpu_check.sh [--dry]   (the wrapper: offline env, header, timeout)
    python benchmarks/gpu_check.py [--dry] [--sentences FILE] [--batch 64] [--steps 50]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from sentemb.config.jobs import DevConfig, ModelRef, TrainJob
from sentemb.config.schema import AnalyzeConfig, EvaluateConfig, MethodConfig, TrainConfig
from sentemb.models.encoder import MINILM_ID, SentenceEncoder, load_backbone, resolve_model_path
from sentemb.training.loop import resolved_precision
from sentemb.utils.device import pick_device

if str(Path(__file__).resolve().parent) not in sys.path:  # _common beside this file, also when loaded by path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    encoder_layer_parameters,
    interleaved,
    load_sentences,
    loop_rate,
    measured,
    st_rate,
    step_tokens,
    sync,
    timed,
)

MAX_LEN = 32
WIKI1M = 1_000_000  # examples in wiki1m_for_simcse.txt: the epoch a real unsupervised run plans
PEAK_ENV = "SENTEMB_PEAK_BF16_TFLOPS"
# Dense (no sparsity) bf16 tensor-core peaks of NVIDIA's datasheets, TFLOP/s. Matched as whole words
# against the device name, first match wins: the PCIe/NVL variants before their SXM names.
PEAK_BF16_TFLOPS = (("H100 PCIe", 756), ("H100 NVL", 835), ("H200 NVL", 835), ("H100", 989), ("H200", 989),
                    ("GH200", 989), ("H800", 989), ("B200", 2250), ("A100", 312), ("A800", 312), ("L40S", 362),
                    ("L40", 181), ("L4", 121), ("A10", 125), ("RTX A6000", 155))


def peak_tflops(device: torch.device) -> tuple[float | None, str]:
    """The peak dense bf16 TFLOP/s of ``device`` and where it came from (None: unknown)."""
    if os.environ.get(PEAK_ENV):
        return float(os.environ[PEAK_ENV]), f"from {PEAK_ENV}"
    if device.type != "cuda":
        return None, "n/a on CPU"
    name = torch.cuda.get_device_name(device)
    for key, tflops in PEAK_BF16_TFLOPS:
        if re.search(rf"\b{re.escape(key)}\b", name):
            return float(tflops), f"{name}, from the table; {PEAK_ENV} overrides"
    return None, f"n/a: {name} is not in the table; set {PEAK_ENV}"


def build_stand_in(root: Path, dry: bool) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # save_pretrained's shard bar would garble the report
    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model_path(MINILM_ID)))
    config = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256) if dry \
        else BertConfig()
    torch.manual_seed(0)
    BertModel(config).save_pretrained(root)
    tokenizer.save_pretrained(root)
    return root


def train_precision(device: torch.device) -> str:
    """``auto``, the real default, is bf16 autocast on CUDA; on the CPU it would be fp32, so the dry run
    forces bf16 to take the autocast path the GPU takes."""
    return "auto" if device.type == "cuda" else "bf16"


def train_ours(model_dir: Path, texts: list[str], a: argparse.Namespace, diagnostics: bool, epoch: int) -> float:
    """Sentences/s of the timed steps of ``loop.train`` on the simcse_unsup recipe."""
    recipe = MethodConfig(objective="two_view", data="wiki", label="Unsup. SimCSE", loss="infonce",
                          loss_args={"temperature": 0.05}, head="mlp", train_pooler="cls_before_pooler",
                          eval_pooler="cls_before_pooler")  # params.yaml's simcse_unsup
    cfg = TrainConfig(max_seq_length=MAX_LEN, precision=train_precision(pick_device()), grad_diagnostics=diagnostics)
    job = TrainJob(run="gpu_check", method="simcse_unsup", backbone=ModelRef(str(model_dir), "stand-in"),
                   recipe=recipe, train=cfg, analyze=AnalyzeConfig(), dev=DevConfig(128, None, 1))
    return loop_rate(timed(job, a.batch, a.warmup, a.steps), texts, a.warmup, a.steps, epoch)


def train_st(model_dir: Path, texts: list[str], a: argparse.Namespace) -> float:
    """Sentences/s of sentence-transformers' MNRL step on the same batches, under bf16 autocast."""
    return st_rate(model_dir, texts, batch=a.batch, warmup=a.warmup, steps=a.steps, max_len=MAX_LEN, bf16=True)


def encode(model_dir: Path, texts: list[str], bf16: bool, out: dict[str, np.ndarray]) -> float:
    """Sentences/s of ``SentenceEncoder.encode`` over ``texts`` (after a warm-up); vectors into ``out``."""
    device = pick_device()
    backbone, tokenizer = load_backbone(model_dir)
    encoder = SentenceEncoder(backbone.to(device), tokenizer, "cls_before_pooler")
    batch, max_len = EvaluateConfig().batch_size, backbone.config.max_position_embeddings
    with torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext():
        encoder.encode(texts[: 2 * batch], batch, max_len)
        sync(device)
        start = time.perf_counter()
        out["bf16" if bf16 else "fp32"] = encoder.encode(texts, batch, max_len)  # returns numpy: synchronised
    return len(texts) / (time.perf_counter() - start)


def gib(values: dict[str, float | None]) -> str:
    if any(v is None for v in values.values()):
        return "n/a on CPU"
    return ", ".join(f"{v:.2f} GiB {k}" for k, v in values.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry", action="store_true", default=os.environ.get("DRY") == "1",
                        help="tiny model, few steps, on the CPU unless SENTEMB_DEVICE says otherwise (also DRY=1)")
    parser.add_argument("--sentences", default=os.environ.get("SENTEMB_GPU_CHECK_SENTENCES"),
                        help="wiki-style text file, one sentence a line (default: the prepared or mirrored wiki1m)")
    parser.add_argument("--batch", type=int, default=None, help="sentences per step (64; dry 16)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per round (50; dry 3)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (10; dry 1)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds, the best counts (2; dry 1)")
    parser.add_argument("--encode", type=int, default=None, help="sentences encoded (16384; dry 256)")
    parser.add_argument("--epoch-size", type=int, default=WIKI1M, help="examples in the loop's epoch")
    a = parser.parse_args()
    for key, full, dry in (("batch", 64, 16), ("steps", 50, 3), ("warmup", 10, 1), ("rounds", 2, 1),
                           ("encode", 16384, 256)):
        if getattr(a, key) is None:
            setattr(a, key, dry if a.dry else full)
    if a.dry:
        os.environ.setdefault("SENTEMB_DEVICE", "cpu")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)  # "creating a new one with mean pooling"

    import sentence_transformers
    import transformers

    device = pick_device()
    if device.type != "cuda" and not a.dry:
        sys.exit("gpu_check: no CUDA device (torch.cuda.is_available() is false); --dry runs the CPU smoke test")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"versions: python {sys.version.split()[0]}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
          f"transformers {transformers.__version__}, sentence-transformers {sentence_transformers.__version__}")
    print(f"device: {device} ({name}){' DRY MODE: tiny model, few steps' if a.dry else ''}")
    if device.type == "cuda":
        print(f"bf16 supported: {torch.cuda.is_bf16_supported()}, fp32 matmul precision: "
              f"{torch.get_float32_matmul_precision()} (highest = no TF32: the fp32 encoding is true fp32)")

    need = (a.warmup + a.steps) * a.batch
    texts, source = load_sentences(a.sentences, max(need, a.encode))
    print(f"sentences: {source}")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_stand_in(Path(tmp), a.dry)
        backbone, tokenizer = load_backbone(model_dir)
        c = backbone.config
        n_all = sum(p.numel() for p in backbone.parameters())
        n_layers = encoder_layer_parameters(backbone)
        del backbone
        print(f"model: random BertConfig(hidden {c.hidden_size}, layers {c.num_hidden_layers}, heads "
              f"{c.num_attention_heads}, intermediate {c.intermediate_size}, vocab {c.vocab_size}): "
              f"{n_all / 1e6:.2f}M parameters, {n_layers / 1e6:.2f}M in the encoder layers; tokenizer: "
              f"bert-base-uncased WordPiece from the all-MiniLM-L6-v2 package")
        print(f"setup: batch {a.batch} sentences x 2 views, max length {MAX_LEN}, {a.warmup} warm-up + "
              f"{a.steps} timed steps, best of {a.rounds} interleaved round(s); train precision: "
              f"{train_precision(device)} -> {resolved_precision(device, train_precision(device))}")

        # Tokens of the timed steps, both views, padded to the longest row as collate.tokenize (and ST) pad.
        padded, real = step_tokens(tokenizer, texts, a.batch, a.warmup, a.steps, MAX_LEN)

        sides: dict[str, Callable[[], float]] = {
            "ours": lambda: train_ours(model_dir, texts, a, True, a.epoch_size),
            "ours (no grad diagnostics)": lambda: train_ours(model_dir, texts, a, False, a.epoch_size),
            "ours (no grad diagnostics, short epoch)": lambda: train_ours(model_dir, texts, a, False, need),
            "sentence-transformers": lambda: train_st(model_dir, texts, a),
        }
        runs = interleaved(device, sides, a.rounds)
        rate = {side: max(value for value, _ in r) for side, r in runs.items()}
        memory = {side: None if any(p is None for _, p in r) else max(p for _, p in r if p is not None)
                  for side, r in runs.items()}

        vectors: dict[str, np.ndarray] = {}
        enc_texts = (texts * (a.encode // len(texts) + 1))[: a.encode]
        enc_rate, enc_memory = {}, {}
        for label, bf16 in (("fp32", False), ("bf16", True)):
            enc_rate[label], enc_memory[label] = measured(device, lambda b=bf16: encode(model_dir, enc_texts, b,
                                                                                       vectors))

    notes = {"ours": f"loop.train, simcse_unsup recipe, grad diagnostics on, epoch of {a.epoch_size:,}",
             "ours (no grad diagnostics)": f"epoch of {a.epoch_size:,}",
             "ours (no grad diagnostics, short epoch)": f"epoch of {need:,}: the timed steps only",
             "sentence-transformers": "MultipleNegativesRankingLoss(scale=20), mean pooling, bare loop"}
    for side, value in rate.items():
        print(f"train {side}: {value:.1f} sentences/s ({notes[side]})")
    print(f"speedup: {rate['ours'] / rate['sentence-transformers']:.2f} (ours / sentence-transformers)")
    flops = 6 * n_layers * padded
    print(f"train tokens: {padded:.1f} per step with padding, {real:.1f} without ({real / padded:.1%} non-pad)")
    print(f"train FLOPs: {flops / 1e12:.4f} TFLOP per step = 6 x {n_layers / 1e6:.2f}M encoder-layer parameters "
          f"x {padded:.0f} padded tokens (embeddings, pooler, head and attention scores not counted)")
    peak, peak_note = peak_tflops(device)
    print(f"peak bf16: {f'{peak:.0f} TFLOP/s' if peak else 'n/a'} ({peak_note})")
    achieved = {side: flops * rate[side] / a.batch for side in ("ours", "sentence-transformers")}
    if peak:
        mfu = {side: v / (peak * 1e12) for side, v in achieved.items()}
        print(f"train MFU: {mfu['ours']:.2%} ours, {mfu['sentence-transformers']:.2%} sentence-transformers "
              f"(padded tokens; non-pad only: {mfu['ours'] * real / padded:.2%}, "
              f"{mfu['sentence-transformers'] * real / padded:.2%}); achieved {achieved['ours'] / 1e12:.2f} TFLOP/s")
    else:
        print(f"train MFU: n/a on CPU (no peak known; achieved {achieved['ours'] / 1e12:.4f} TFLOP/s ours)"
              if device.type != "cuda" else f"train MFU: {peak_note}")
    print(f"train peak memory: {gib({k: memory[k] for k in ('ours', 'sentence-transformers')})} "
          "(weights, gradients, AdamW state and activations)")
    print(f"encode fp32: {enc_rate['fp32']:.1f} sentences/s (SentenceEncoder.encode, batch "
          f"{EvaluateConfig().batch_size}, {a.encode} sentences)")
    print(f"encode bf16: {enc_rate['bf16']:.1f} sentences/s (torch.autocast around SentenceEncoder.encode: the "
          "code has no bf16 encoding path; evaluate.precision is not read)")
    u, v = vectors["fp32"], vectors["bf16"]
    cos = (u * v).sum(1) / np.maximum(np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1), 1e-12)
    print(f"encode bf16 vs fp32 cosine distance: {1 - cos.mean():.2e} mean, {1 - cos.min():.2e} max "
          "(1 - cosine of each sentence's two vectors)")
    print(f"encode peak memory: {gib(enc_memory)}")
    if not all(math.isfinite(x) for x in (*rate.values(), *enc_rate.values(), float(cos.mean()))):
        sys.exit("gpu_check: a measurement is not finite")


if __name__ == "__main__":
    main()
