"""Training loop: determinism, kill-and-resume equality, NaN stop, export round trips (CPU, tiny BERT)."""

from __future__ import annotations

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
from sentemb.config import DataConfig, Params, from_dict
from sentemb.data.prepare import prepare
from sentemb.losses.infonce import InfoNCELoss
from sentemb.models.encoder import SentenceEncoder, load_backbone
from sentemb.training.loop import TIMING_KEYS, TrainingError
from sentemb.training.optim import lr_at
from sentemb.training.run import run_variant

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_TIMING = ("wall_s", "sentences_per_s")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train")
    prepare(DataConfig(mirror_dir=str(MIRROR), strict_upstream=False), root / "prepared",
            root / "prepare.json")
    words = {w for p in (MIRROR).rglob("*") if p.is_file()
             for w in p.read_text("latin-1").lower().replace(",", " ").split()}
    build_tiny_model_dir(root / "model", extra_words=sorted(words))
    return root


def _params(workdir: Path, **variant: object) -> dict:
    v = {"objective": "two_view", "data": "wiki", "loss": "infonce", "loss_args": {"temperature": 0.05},
         "head": "mlp", "train_pooler": "avg", "eval_pooler": "avg"} | variant
    return {"model": {"name_or_path": str(workdir / "model")},
            "train": {"batch_size": 4, "epochs": 2, "max_steps": 6, "eval_steps": 2, "save_steps": 2,
                      "max_seq_length": 16, "lr": 1e-3, "seed": 7},
            "variants": {"v": v}}


def _run(workdir: Path, out: Path, **variant: object) -> dict:
    params = from_dict(Params, _params(workdir, **variant))
    return run_variant(params, "v", workdir / "prepared", out / "models", out / "metrics")


def _rows(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING_KEYS}
            for line in path.read_text().splitlines()]


def _untimed(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in SUMMARY_TIMING}


def test_lr_schedule_is_linear_with_warmup() -> None:
    assert [lr_at(s, 10, 1.0) for s in (0, 5, 10)] == [1.0, 0.5, 0.0]
    assert [lr_at(s, 10, 1.0, warmup_steps=2) for s in (0, 1, 2, 6)] == [0.0, 0.5, 1.0, 0.5]


def test_same_seed_twice_gives_identical_metrics(workdir: Path, tmp_path: Path) -> None:
    a = _run(workdir, tmp_path / "a")
    b = _run(workdir, tmp_path / "b")
    assert _untimed(a) == _untimed(b) and a["steps"] == 6
    for name in ("v.jsonl", "v.dev.jsonl"):
        rows_a, rows_b = _rows(tmp_path / "a/metrics" / name), _rows(tmp_path / "b/metrics" / name)
        assert rows_a == rows_b and rows_a
    first = json.loads((tmp_path / "a/metrics/v.jsonl").read_text().splitlines()[0])
    assert {"loss", "pos_cos", "neg_cos", "acc", "lr", "grad_norm", "sentences_per_s"} <= set(first)
    assert not (tmp_path / "a/models/checkpoint.pt").exists()  # removed once training finished


def test_gradient_diagnostics_do_not_change_training(workdir: Path, tmp_path: Path) -> None:
    """The float64 probe of losses/paradigm.py only reads the batch: with it off, every logged
    number, the dev curve and the exported weights are the same; only the grad/* stats go."""
    on = _run(workdir, tmp_path / "on", train={"grad_diagnostics": True})
    off = _run(workdir, tmp_path / "off", train={"grad_diagnostics": False})
    assert _untimed(on) | {"params_hash": None} == _untimed(off) | {"params_hash": None}
    rows_on, rows_off = _rows(tmp_path / "on/metrics/v.jsonl"), _rows(tmp_path / "off/metrics/v.jsonl")
    assert all(any(k.startswith("grad/") for k in r) for r in rows_on)
    assert [{k: v for k, v in r.items() if not k.startswith("grad/")} for r in rows_on] == rows_off
    assert _rows(tmp_path / "on/metrics/v.dev.jsonl") == _rows(tmp_path / "off/metrics/v.dev.jsonl")
    from safetensors.torch import load_file

    a, b = (load_file(tmp_path / d / "models/model/model.safetensors") for d in ("on", "off"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_kill_and_resume_equals_an_uninterrupted_run(workdir: Path, tmp_path: Path) -> None:
    reference = _run(workdir, tmp_path / "ref")
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(_params(workdir)))
    cmd = [sys.executable, str(ROOT / "stages/train.py"), "--params", str(params_file), "--variant", "v",
           "--data-dir", str(workdir / "prepared"), "--model-dir", str(tmp_path / "run/models"),
           "--metrics-dir", str(tmp_path / "run/metrics")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "run/models/checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert ckpt.exists(), "the run never wrote a checkpoint"
    os.kill(proc.pid, signal.SIGKILL)  # killed at an arbitrary point after its first checkpoint
    proc.wait()
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stderr
    summary = json.loads((tmp_path / "run/metrics/v.json").read_text())
    assert _untimed(summary) == _untimed(reference)
    for name in ("v.jsonl", "v.dev.jsonl"):
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
    rows = _rows(tmp_path / "nan/metrics/v.jsonl")
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


@pytest.mark.parametrize("variant", sorted(yaml.safe_load((ROOT / "params.yaml").read_text())["variants"]))
def test_every_shipped_variant_trains_two_steps(workdir: Path, tmp_path: Path, variant: str) -> None:
    """params.yaml's variants, on the tiny model: they build, train and export (wiring of run.py)."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["variants"][variant]["train"] = {"batch_size": 4, "max_steps": 2, "eval_steps": 2, "save_steps": 2}
    params = from_dict(Params, {"model": {"name_or_path": str(workdir / "model")}, "train": raw["train"],
                                "variants": {variant: raw["variants"][variant]}})
    summary = run_variant(params, variant, workdir / "prepared", tmp_path / "m", tmp_path / "metrics")
    assert summary["steps"] == 2 and (tmp_path / "m/model/sentemb.json").exists()
    assert summary["resolved_precision"] == "fp32"  # auto on CPU
    rows = [json.loads(line) for line in (tmp_path / "metrics" / f"{variant}.jsonl").read_text().splitlines()]
    assert all("grad/gd_mean" in row for row in rows)  # measured GD/W/R for every loss (methods.md §5.4)
    if variant == "diffcse":
        assert summary["generator"] == "random_replacement"


def test_learning_dynamics_are_logged_and_do_not_change_training(workdir: Path, tmp_path: Path) -> None:
    """The analysis at each dev evaluation (methods.md §6.2, SimCSE Fig. 2) only reads the
    model in eval mode: with it off, the step log, dev curve and weights are identical."""
    def run(out: Path, n: int) -> dict:
        params = from_dict(Params, _params(workdir) | {"analyze": {"dynamics_sentences": n, "baseline_samples": 3,
                                                                     "min_type_count": 2}})
        return run_variant(params, "v", workdir / "prepared", out / "models", out / "metrics", seed=11, run="v.s11")

    on, off = run(tmp_path / "on", 4), run(tmp_path / "off", 0)
    assert on["seed"] == 11 and on["run"] == "v.s11" and _untimed(on) == _untimed(off)
    dyn = [json.loads(line) for line in (tmp_path / "on/metrics/v.s11.dynamics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in dyn] == [2, 4, 6]  # one row per dev evaluation
    assert {"alignment", "uniformity", "spectrum"} <= dyn[0]["sentence"].keys()
    assert len(dyn[0]["layers"]) == 3 and "anisotropy_baseline" in dyn[0]["layers"][-1]  # embeddings + 2 layers
    assert (tmp_path / "off/metrics/v.s11.dynamics.jsonl").read_text() == ""
    assert _rows(tmp_path / "on/metrics/v.s11.jsonl") == _rows(tmp_path / "off/metrics/v.s11.jsonl")
    assert _rows(tmp_path / "on/metrics/v.s11.dev.jsonl") == _rows(tmp_path / "off/metrics/v.s11.dev.jsonl")


def test_seed_override_changes_the_run(workdir: Path, tmp_path: Path) -> None:
    params = from_dict(Params, _params(workdir))
    a = run_variant(params, "v", workdir / "prepared", tmp_path / "a", tmp_path / "m", seed=1, run="v.s1")
    b = run_variant(params, "v", workdir / "prepared", tmp_path / "b", tmp_path / "m", seed=2, run="v.s2")
    assert (a["seed"], b["seed"]) == (1, 2)
    assert _rows(tmp_path / "m/v.s1.jsonl") != _rows(tmp_path / "m/v.s2.jsonl")  # another seed, another run
