"""Training throughput: our unsupervised SimCSE against sentence-transformers' MNRL recipe.

Same process, machine, model (all-MiniLM-L6-v2), sentences (the prepared wiki sentences, or
the mirror's wiki1m head), batch size 64 and max length 32. The baseline is what a user would
pick instead: ``SentenceTransformerTrainer`` with ``MultipleNegativesRankingLoss(scale=20)``
(i.e. tau = 0.05) on (s, s) pairs. Each side runs a warm-up, then ``--steps`` timed optimizer
steps; the two are interleaved twice (A B A B) so drifting machine load hits both.

Also reported: the achieved FLOP/s of our training step (forward + backward ~ 3x forward;
forward ~ 2 x parameters-in-the-encoder-layers x tokens, plus attention) as a fraction of a large
fp32 matmul's FLOP/s on the same machine. The last line is ``speedup: X.XX`` (ours / baseline,
sentences per second).

    .venv/bin/python benchmarks/train_speed.py [--steps 20]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from sentemb.losses import build_loss
from sentemb.models.encoder import MINILM_ID, SentenceEncoder, load_backbone, resolve_model_path
from sentemb.objectives import build_objective
from sentemb.objectives.base import TextBatch

BATCH, MAX_LEN = 64, 32
MIRROR = Path(os.environ.get("SENTEMB_DATA_MIRROR", "../shared/data/datasets-for-simcse"))


def sentences(n: int) -> list[str]:
    path = Path("data/prepared/wiki.txt")
    path = path if path.exists() else MIRROR / "wiki1m_for_simcse.txt"
    return path.read_text(encoding="utf-8").splitlines()[:n]


def ours(texts: list[str], steps: int, warmup: int) -> float:
    torch.manual_seed(0)
    backbone, tokenizer = load_backbone(resolve_model_path(MINILM_ID))
    objective = build_objective("two_view", encoder=SentenceEncoder(backbone, tokenizer, "avg"), tokenizer=tokenizer,
                                loss=build_loss("infonce", temperature=0.05), head="mlp", max_seq_length=MAX_LEN)
    opt = torch.optim.AdamW(objective.trainable_parameters(), lr=3e-5)
    objective.train()
    t0 = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        batch = TextBatch(sentences=texts[(i * BATCH) % len(texts) :][:BATCH])
        out = objective(batch)
        out.total.backward()
        torch.nn.utils.clip_grad_norm_(objective.trainable_parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return steps * BATCH / (time.perf_counter() - t0)


def baseline(texts: list[str], steps: int, warmup: int) -> float:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, losses
    from sentence_transformers.training_args import SentenceTransformerTrainingArguments
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        start = 0.0

        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001, ANN003
            if state.global_step == warmup:
                Clock.start = time.perf_counter()

    torch.manual_seed(0)
    model = SentenceTransformer(str(resolve_model_path(MINILM_ID)), device="cpu")
    model.max_seq_length = MAX_LEN
    n = (warmup + steps) * BATCH
    data = Dataset.from_dict({"anchor": (texts * 4)[:n], "positive": (texts * 4)[:n]})
    args = SentenceTransformerTrainingArguments(
        output_dir="/tmp/st-bench", per_device_train_batch_size=BATCH, num_train_epochs=1, learning_rate=3e-5,
        max_steps=warmup + steps, logging_steps=10_000, save_strategy="no", report_to=[], seed=0,
        dataloader_drop_last=True, use_cpu=True, disable_tqdm=True)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data,
                                         loss=losses.MultipleNegativesRankingLoss(model, scale=20.0),
                                         callbacks=[Clock()])
    trainer.train()
    return steps * BATCH / (time.perf_counter() - Clock.start)


def matmul_flops(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def step_flops(texts: list[str]) -> float:
    """Approximate FLOPs of one training step: 3 x (2 x layer params x tokens + attention)."""
    backbone, tokenizer = load_backbone(resolve_model_path(MINILM_ID))
    enc = tokenizer(texts[:BATCH] * 2, padding=True, truncation=True, max_length=MAX_LEN)
    tokens = sum(len(x) for x in enc["input_ids"])
    seq = max(len(x) for x in enc["input_ids"])
    cfg = backbone.config
    layer_params = sum(p.numel() for n, p in backbone.named_parameters() if ".layer." in n)
    attention = 4 * cfg.num_hidden_layers * 2 * BATCH * seq * seq * cfg.hidden_size
    return 3.0 * (2 * layer_params * tokens + attention)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    texts = sentences(4000)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cuda {torch.cuda.is_available()}")
    runs: dict[str, list[float]] = {"ours": [], "baseline": []}
    for _ in range(2):
        runs["ours"].append(ours(texts, args.steps, args.warmup))
        runs["baseline"].append(baseline(texts, args.steps, args.warmup))
        print(f"ours {runs['ours'][-1]:.1f} sent/s   sentence-transformers MNRL {runs['baseline'][-1]:.1f} sent/s")
    best_ours, best_base = max(runs["ours"]), max(runs["baseline"])
    peak = matmul_flops()
    achieved = step_flops(texts) * best_ours / BATCH
    print(f"achieved {achieved / 1e9:.1f} GFLOP/s = {achieved / peak:.2f} of a 2048^3 fp32 matmul "
          f"({peak / 1e9:.1f} GFLOP/s)")
    print(f"speedup: {best_ours / best_base:.2f}")


if __name__ == "__main__":
    main()
