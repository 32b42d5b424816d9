"""Training loop: determinism, kill-and-resume equality, NaN stop, export round trips (CPU, tiny BERT)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import MIRROR, build_tiny_model_dir
from sentemb.config import DataConfig, Params, from_dict, load_params
from sentemb.config.jobs import TrainJob
from sentemb.config.resolve import as_json, resolve_method, train_job
from sentemb.data.prepare import prepare
from sentemb.evaluation.runner import EvalRequest, evaluate
from sentemb.layout import ModelDir, TrainRun, train_files
from sentemb.losses.infonce import InfoNCELoss
from sentemb.models.encoder import SentenceEncoder, load_backbone
from sentemb.training.loop import TIMING_KEYS, TrainingError
from sentemb.training.optim import lr_at, warmup_steps
from sentemb.training.run import run_training

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_TIMING = ("wall_s", "sentences_per_s")
RUN = "v.tiny.s7"
HEADLINE = ("steps", "best_dev", "best_step", "wall_s", "sentences_per_s")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train")
    prepare(DataConfig(mirror_dir=str(MIRROR), strict_upstream=False), root / "prepared",
            root / "prepare.json")
    words = {w for p in (MIRROR).rglob("*") if p.is_file()
             for w in p.read_text("latin-1").lower().replace(",", " ").split()}
    build_tiny_model_dir(root / "model", extra_words=sorted(words))
    return root


def _params(workdir: Path, **method: object) -> dict:
    m = {"label": "V", "objective": "two_view", "data": "wiki", "loss": "infonce", "loss_args": {"temperature": 0.05},
         "head": "mlp", "train_pooler": "avg", "eval_pooler": "avg"} | method
    return {"backbones": {"tiny": {"model": str(workdir / "model"), "label": "tiny"}},
            "train": {"batch_size": 4, "epochs": 2, "max_steps": 6, "eval_steps": 2, "save_steps": 2,
                      "max_seq_length": 16, "lr": 1e-3},
            "methods": {"v": m}}


def job_of(raw: dict, method: str = "v", seed: int = 7) -> TrainJob:
    """The train stage's job for one run, through the same resolution check_params uses."""
    params = from_dict(Params, raw)
    return from_dict(TrainJob, as_json(train_job(params, TrainRun(method, next(iter(params.backbones)), seed))))


def run_job(job: TrainJob, workdir: Path, out: Path) -> dict:
    return run_training(job, workdir / "prepared", ModelDir(out / "models"), train_files(out / "metrics", job.run))


def _run(workdir: Path, out: Path, seed: int = 7, **method: object) -> dict:
    return run_job(job_of(_params(workdir, **method), seed=seed), workdir, out)


def _rows(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS}
            for line in path.read_text().splitlines()]


def _untimed(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in SUMMARY_TIMING}


def test_lr_schedule_is_linear_with_warmup() -> None:
    assert [lr_at(s, 10, 1.0) for s in (0, 5, 10)] == [1.0, 0.5, 0.0]
    assert [lr_at(s, 10, 1.0, 2) for s in (0, 1, 2, 6)] == [0.0, 0.5, 1.0, 0.5]
    assert warmup_steps(24, 0.1) == 3  # rounded up, as HF and the SBERT notebooks


def test_same_seed_twice_gives_identical_metrics(workdir: Path, tmp_path: Path) -> None:
    a = _run(workdir, tmp_path / "a")
    b = _run(workdir, tmp_path / "b")
    assert _untimed(a) == _untimed(b) and a["steps"] == 6
    for name in (f"{RUN}.jsonl", f"{RUN}.dev.jsonl"):
        rows_a, rows_b = _rows(tmp_path / "a/metrics" / name), _rows(tmp_path / "b/metrics" / name)
        assert rows_a == rows_b and rows_a
    first = json.loads((tmp_path / f"a/metrics/{RUN}.jsonl").read_text().splitlines()[0])
    assert {"loss", "pos_cos", "neg_cos", "acc", "lr", "grad_norm", "sentences_per_s"} <= set(first)
    assert not (tmp_path / "a/models/checkpoint.pt").exists()  # removed once training finished


def test_gradient_diagnostics_do_not_change_training(workdir: Path, tmp_path: Path) -> None:
    """The float64 probe of losses/paradigm.py only reads the batch: with it off, every logged
    number, the dev curve and the exported weights are the same; only the grad/* stats go."""
    on = _run(workdir, tmp_path / "on", train={"grad_diagnostics": True})
    off = _run(workdir, tmp_path / "off", train={"grad_diagnostics": False})
    assert _untimed(on) | {"run_id": None} == _untimed(off) | {"run_id": None}
    rows_on, rows_off = _rows(tmp_path / f"on/metrics/{RUN}.jsonl"), _rows(tmp_path / f"off/metrics/{RUN}.jsonl")
    assert all(any(k.startswith("grad/") for k in r) for r in rows_on)
    assert [{k: v for k, v in r.items() if not k.startswith("grad/")} for r in rows_on] == rows_off
    assert _rows(tmp_path / f"on/metrics/{RUN}.dev.jsonl") == _rows(tmp_path / f"off/metrics/{RUN}.dev.jsonl")
    from safetensors.torch import load_file

    a, b = (load_file(tmp_path / d / "models/model/model.safetensors") for d in ("on", "off"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_kill_and_resume_equals_an_uninterrupted_run(workdir: Path, tmp_path: Path) -> None:
    reference = _run(workdir, tmp_path / "ref")
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(as_json(job_of(_params(workdir)))))
    cmd = [sys.executable, str(ROOT / "stages/train.py"), "--job", str(job_file),
           "--data-dir", str(workdir / "prepared"), "--model-dir", str(tmp_path / "run/models"),
           "--metrics-dir", str(tmp_path / "run/metrics")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "run/models/checkpoint.pt"
    deadline = time.time() + 1800
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert ckpt.exists(), "the run never wrote a checkpoint"
    os.kill(proc.pid, signal.SIGKILL)  # killed at an arbitrary point after its first checkpoint
    proc.wait()
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stderr
    summary = json.loads((tmp_path / f"run/metrics/{RUN}.details.json").read_text())
    assert _untimed(summary) == _untimed(reference)
    assert json.loads((tmp_path / f"run/metrics/{RUN}.json").read_text()).keys() == set(HEADLINE)  # small metric
    for name in (f"{RUN}.jsonl", f"{RUN}.dev.jsonl"):
        assert _rows(tmp_path / "run/metrics" / name) == _rows(tmp_path / "ref/metrics" / name)


def test_checkpoint_from_other_params_is_discarded(workdir: Path, tmp_path: Path, caplog) -> None:
    _run(workdir, tmp_path / "x")
    (tmp_path / "x/models/checkpoint.pt").write_bytes(b"")  # placeholder replaced below
    torch.save({"meta": {"run_id": "other"}}, tmp_path / "x/models/checkpoint.pt")
    summary = _run(workdir, tmp_path / "x")
    assert summary["steps"] == 6 and "discarding" in caplog.text


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(workdir: Path, tmp_path: Path, monkeypatch) -> None:
    calls = {"n": 0}
    original = InfoNCELoss.forward

    def poisoned(self, *, batch):
        calls["n"] += batch.anchor.dtype == torch.float32  # not the float64 re-runs of the gradient diagnostics
        out = original(self, batch=batch)
        if calls["n"] == 3:
            out.total = out.total * float("nan")
        return out

    monkeypatch.setattr(InfoNCELoss, "forward", poisoned)
    with pytest.raises(TrainingError, match=r"step 3: loss is nan"):
        _run(workdir, tmp_path / "nan")
    payload = torch.load(tmp_path / "nan/models/checkpoint.pt", weights_only=False)
    assert payload["loop"]["step"] == 2  # the good checkpoint of step 2 is intact
    rows = _rows(tmp_path / f"nan/metrics/{RUN}.jsonl")
    assert [r["step"] for r in rows] == [1, 2]


@pytest.mark.parametrize(("eval_pooler", "train_pooler", "st_pooling"),
                         [("avg", "avg", "mean"), ("cls", "cls_before_pooler", "cls")])
def test_export_loads_in_hf_and_sentence_transformers(workdir: Path, tmp_path: Path, eval_pooler: str,
                                                      train_pooler: str, st_pooling: str) -> None:
    from sentence_transformers import SentenceTransformer

    _run(workdir, tmp_path / eval_pooler, eval_pooler=eval_pooler, train_pooler=train_pooler)
    model_dir = tmp_path / eval_pooler / "models/model"
    meta = json.loads((model_dir / "sentemb.json").read_text())
    assert meta["eval_pooler"] == eval_pooler and meta["mlp_only_train"] == (eval_pooler != "cls")
    sentences = ["a man is playing a guitar .", "the dog runs in the park .", "water"]
    backbone, tokenizer = load_backbone(model_dir)
    ours = SentenceEncoder(backbone, tokenizer, eval_pooler).encode(sentences)
    st = SentenceTransformer(str(model_dir), device="cpu")
    assert st_pooling in json.dumps(st[1].get_config_dict()) or st[1].pooling_mode_cls_token
    np.testing.assert_allclose(st.encode(sentences), ours, atol=1e-5)


SHIPPED = load_params(ROOT / "params.yaml")


def _shipped(workdir: Path, method: str) -> dict:
    """A shipped method, as the default profile resolves it, on the tiny model for 2 steps."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    recipe = dataclasses.asdict(resolve_method(SHIPPED, method, "minilm"))
    recipe["train"] = recipe["train"] | {"batch_size": 4, "max_steps": 2, "eval_steps": 1, "save_steps": 2}
    return {"backbones": {"tiny": {"model": str(workdir / "model"), "label": "tiny"}}, "train": raw["train"],
            "methods": {method: recipe}, "analyze": {"dynamics_sentences": 0}}


@pytest.mark.parametrize("method", list(SHIPPED.methods))
def test_every_shipped_method_trains_and_its_selection_score_is_what_evaluation_gives(
        workdir: Path, tmp_path: Path, method: str) -> None:
    """The STS-B dev score recorded when a checkpoint was selected equals `sentemb evaluate --mode
    dev` on the exported model with the method's eval pooler (the dev encoder is the encoder
    evaluation loads), for every shipped method; each also trains, exports and logs GD/W/R."""
    job = job_of(_shipped(workdir, method), method, 42)
    summary = run_job(job, workdir, tmp_path)
    assert summary["steps"] == 2 and summary["resolved_precision"] == "fp32"  # auto on CPU
    meta = json.loads((tmp_path / "models/model/sentemb.json").read_text())
    req = EvalRequest(model=str(tmp_path / "models/model"), pooler=job.recipe.eval_pooler, tasks="sts", mode="dev",
                      data_dir=str(workdir / "prepared"), batch_size=job.dev.batch_size, cache_dir=None)
    doc = evaluate(req)
    assert meta["stsb_dev"] == pytest.approx(100 * doc["details"]["STSBenchmark"]["splits"]["dev"]["spearman"],
                                             abs=1e-9)
    rows = [json.loads(line) for line in (tmp_path / f"metrics/{job.run}.jsonl").read_text().splitlines()]
    assert all("grad/gd_mean" in row for row in rows)  # measured GD/W/R for every loss (docs/methods.md §5.4)
    if method == "diffcse":
        assert summary["generator"] == "random_replacement"


def test_supervised_selection_applies_the_mlp_the_export_keeps(workdir: Path, tmp_path: Path) -> None:
    """With eval_pooler cls the dev encoder is [CLS] through the trained MLP, not the raw [CLS]:
    the two scores differ, and the recorded one is the exported model's."""
    job = job_of(_params(workdir, train_pooler="cls_before_pooler", eval_pooler="cls"))
    run_job(job, workdir, tmp_path)
    model = str(tmp_path / "models/model")
    recorded = json.loads((tmp_path / "models/model/sentemb.json").read_text())["stsb_dev"]
    def dev(pooler: str) -> float:
        req = EvalRequest(model=model, pooler=pooler, tasks="sts", mode="dev", data_dir=str(workdir / "prepared"),
                          batch_size=job.dev.batch_size, cache_dir=None)
        return 100 * evaluate(req)["details"]["STSBenchmark"]["splits"]["dev"]["spearman"]

    assert recorded == pytest.approx(dev("cls"), abs=1e-9) and recorded != pytest.approx(dev("cls_before_pooler"))


def test_learning_dynamics_are_logged_and_do_not_change_training(workdir: Path, tmp_path: Path) -> None:
    """The analysis at each dev evaluation (docs/methods.md §6.2, SimCSE Fig. 2) only reads the
    model in eval mode: with it off, the step log, dev curve and weights are identical."""
    def run(out: Path, n: int) -> dict:
        raw = _params(workdir) | {"analyze": {"dynamics_sentences": n, "baseline_samples": 3, "min_type_count": 2}}
        return run_job(job_of(raw, seed=11), workdir, out)

    on, off = run(tmp_path / "on", 4), run(tmp_path / "off", 0)
    run = "v.tiny.s11"
    assert on["seed"] == 11 and on["run"] == run and _untimed(on) | {"run_id": 0} == _untimed(off) | {"run_id": 0}
    dyn = [json.loads(line) for line in (tmp_path / f"on/metrics/{run}.dynamics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in dyn] == [2, 4, 6]  # one row per dev evaluation
    assert {"alignment", "uniformity", "spectrum"} <= dyn[0]["sentence"].keys()
    assert len(dyn[0]["layers"]) == 3 and "anisotropy_baseline" in dyn[0]["layers"][-1]  # embeddings + 2 layers
    assert (tmp_path / f"off/metrics/{run}.dynamics.jsonl").read_text() == ""
    assert _rows(tmp_path / f"on/metrics/{run}.jsonl") == _rows(tmp_path / f"off/metrics/{run}.jsonl")
    assert _rows(tmp_path / f"on/metrics/{run}.dev.jsonl") == _rows(tmp_path / f"off/metrics/{run}.dev.jsonl")


def test_seed_of_the_run_changes_the_run(workdir: Path, tmp_path: Path) -> None:
    a, b = _run(workdir, tmp_path / "a", seed=1), _run(workdir, tmp_path / "b", seed=2)
    assert (a["seed"], b["seed"]) == (1, 2)
    assert _rows(tmp_path / "a/metrics/v.tiny.s1.jsonl") != _rows(tmp_path / "b/metrics/v.tiny.s2.jsonl")


def test_evaluation_only_at_multiples_of_eval_steps(workdir: Path, tmp_path: Path) -> None:
    """HF Trainer semantics (SimCSE): no extra evaluation at the last step when it is not a multiple."""
    raw = _params(workdir)
    raw["train"] |= {"max_steps": 5, "eval_steps": 2}
    run_job(job_of(raw), workdir, tmp_path)
    assert [r["step"] for r in _rows(tmp_path / f"metrics/{RUN}.dev.jsonl")] == [2, 4]
    raw["train"] |= {"eval_steps": 6}
    with pytest.raises(TrainingError, match="eval_steps 6 exceeds the run's 5 steps"):
        run_job(job_of(raw), workdir, tmp_path / "never")
