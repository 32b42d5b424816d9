"""A pair run killed (SIGKILL) after a checkpoint resumes to exactly the run that was never
killed: same selection, same test numbers, same logs, same per-item outputs. The case is the
hardest one the one loop has: BSC with the model-based kNN shuffle, two seed trials, checkpoints
every step, so the kill lands inside an epoch whose order was computed from a model that has
since moved on (the order must come from the checkpoint, not be recomputed)."""

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
import yaml

from conftest import MIRROR, build_tiny_model_dir
from sentemb.config import DataConfig, Params, from_dict
from sentemb.config.jobs import PairJob
from sentemb.config.resolve import as_json, pair_job
from sentemb.data.prepare import prepare
from sentemb.layout import ModelDir, PairRun, pair_files
from sentemb.pairs.run import run_pair
from sentemb.utils.io import write_json

ROOT = Path(__file__).resolve().parents[2]
HANG_S = 1800  # only stops a hang
UNTIMED = ("wall_s", "sentences_per_s", "elapsed_s", "order_s")


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> tuple[PairJob, Path]:
    root = tmp_path_factory.mktemp("pair-resume")
    prepare(DataConfig(mirror_dir=str(MIRROR), strict_upstream=False), root / "prepared", root / "prepare.json")
    words = {w for p in MIRROR.rglob("*") if p.is_file() for w in p.read_text("latin-1").lower().split()}
    model = build_tiny_model_dir(root / "model", extra_words=sorted(words))
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["backbones"] = {"tiny": {"model": str(model), "label": "tiny"}}
    raw["pairs"].update(backbone="tiny", trials=2)
    raw["pairs"]["train"].update(batch_size=2, epochs=2, save_steps=1, max_seq_length=16, max_steps=None)
    raw["pairs"]["shuffle"].update(group_size=2, knn_candidates=4)
    raw["pairs"]["tasks"] = {"stsb": raw["pairs"]["tasks"]["stsb"] | {"max_train_pairs": None}}
    raw["pairs"]["methods"] = {"bsc": raw["pairs"]["methods"]["bsc"]}
    params = from_dict(Params, raw)
    resolved = pair_job(params, PairRun("stsb", "bsc"))
    assert resolved.method.shuffle == "example_knn" and resolved.applicable
    return from_dict(PairJob, as_json(resolved) | {"cache_dir": str(root / "cache")}), root


def _untimed(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in UNTIMED} for r in rows]


def _outputs(out: Path) -> dict:
    files = pair_files(out / "metrics", "stsb-bsc")
    doc = json.loads(files.details.read_text())
    with np.load(files.items) as items:
        arrays = {k: items[k].tolist() for k in items.files}
    logs = {name: _untimed([json.loads(line) for line in path.read_text().splitlines()])
            for name, path in (("steps", files.steps), ("dev", files.dev))}
    return {"doc": {k: v for k, v in doc.items() if k not in UNTIMED}, "items": arrays, "logs": logs}


def test_a_killed_pair_run_resumes_to_the_uninterrupted_one(job: tuple[PairJob, Path], tmp_path: Path) -> None:
    pair, root = job
    ref = tmp_path / "ref"
    files = pair_files(ref / "metrics", "stsb-bsc")
    write_json(files.details, run_pair(pair, root / "prepared", ModelDir(ref / "models"), files))  # as the stage

    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(as_json(pair)))
    out = tmp_path / "run"
    cmd = [sys.executable, str(ROOT / "stages/finetune_pairs.py"), "--job", str(job_file), "--data-dir",
           str(root / "prepared"), "--model-dir", str(out / "models"), "--metrics-dir", str(out / "metrics")]
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    # the second trial's checkpoint: trial 0 is finished (kept) and trial 1 is mid-run
    ckpt = ModelDir(out / "models").trial(1).checkpoint
    deadline = time.time() + HANG_S
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert ckpt.exists(), "the run never wrote a checkpoint of its second trial"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (ModelDir(out / "models").trial(0).root / "summary.json").exists()  # finished work is kept

    resumed = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=HANG_S)
    assert resumed.returncode == 0, resumed.stderr
    assert _outputs(out) == _outputs(ref)
