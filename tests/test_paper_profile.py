"""The paper profile, mechanically, through the real dvc.yaml: every method on every backbone it
names (BERT-base and RoBERTa-base, DiffCSE's DistilBERT / DistilRoBERTa generators), every pair
task it names (the online ones from a pre-filled download cache), prepare -> train ->
evaluate_variant -> analyze_variant -> finetune_pairs -> aggregate, 2 steps each, offline.

The hub ids of profiles/paper.yaml are kept as they are: they resolve, with HF_HUB_OFFLINE=1, to
tiny random stand-ins laid out as the Hugging Face cache (sentemb/standins.py), so the real hub
code path runs. Only the scale is cut (steps, batch sizes, data caps). Stand-ins check
mechanics, never scores: the report says so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from conftest import REAL_MIRROR
from pairs.source_fixtures import PAPER_PAIRS_SCALED_DOWN, populate_pair_cache
from sentemb.config import Params, from_dict
from sentemb.config.load import merge_patch, read_yaml
from sentemb.config.resolve import pair_runs, train_runs
from sentemb.standins import STANDINS, hub_env, populate_hf_cache
from test_pipeline_smoke import copy_project, dvc, make_mirror
from zygote import warm_python

ROOT = Path(__file__).resolve().parents[1]


def scaled_paper_params(mirror: Path, cache: Path, pair_cache: Path) -> dict:
    """profiles/paper.yaml applied to params.yaml as `sentemb profile` does, then cut to 2 steps."""
    raw = merge_patch(read_yaml(ROOT / "params.yaml"), read_yaml(ROOT / "profiles" / "paper.yaml"))
    raw["data"].update(mirror_dir=str(mirror), strict_upstream=False, wiki_max_sentences=8, nli_max_triplets=8)
    raw["seeds"] = [42]
    raw["train"].update(max_seq_length=16)
    for backbone in raw["backbones"].values():
        backbone["train"] = {"batch_size": 4, "max_steps": 2, "eval_steps": 1, "save_steps": 1}
        for over in backbone.get("methods", {}).values():
            train = over.get("train", {})
            for key in ("eval_steps", "save_steps", "epochs"):
                train.pop(key, None)
            if "batch_size" in train:
                train["batch_size"] = 4
    raw["evaluate"].update(mode="fasttest", cache_dir=str(cache))
    raw["analyze"].update(min_type_count=2, baseline_samples=4, batch_size=4, dynamics_sentences=4)
    raw = merge_patch(raw, PAPER_PAIRS_SCALED_DOWN)
    raw["pairs"].update(cache_dir=str(pair_cache))
    raw["pairs"]["train"].update(max_seq_length=16)
    raw["pairs"]["shuffle"].update(group_size=2, knn_candidates=4, n_clusters=2, shingle_size=1)
    for task in raw["pairs"]["tasks"].values():
        task.get("train", {}).pop("epochs", None)
        if task.get("source") in ("STSBenchmark", "MRPC", "SICKRelatedness"):
            task["max_train_pairs"] = 12
    return raw


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("paper")
    proj = copy_project(tmp / "proj")
    mirror = make_mirror(tmp / "mirror")
    corpus = REAL_MIRROR / "wiki1m_for_simcse.txt" if REAL_MIRROR else mirror / "wiki1m_for_simcse.txt"
    populate_hf_cache(tmp / "hf", corpus=corpus)
    populate_pair_cache(tmp / "pair-cache")
    raw = scaled_paper_params(mirror, tmp / "cache", tmp / "pair-cache")
    (proj / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with warm_python(proj / "src", env=hub_env(tmp / "hf")) as env:
        assert dvc(proj, env, "init", "--no-scm", "-q").returncode == 0
        yield proj, env, from_dict(Params, raw)


def test_every_paper_method_backbone_and_pair_task_runs_through_dvc(project) -> None:
    proj, env, params = project
    assert set(params.backbones) == {"bert", "roberta"}
    assert {b.model for b in params.backbones.values()} | {"distilbert-base-uncased", "distilroberta-base"} <= set(
        STANDINS)
    run = dvc(proj, env, "repro")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    runs = train_runs(params)
    assert len(runs) == len(params.methods) * 2  # every method on both backbones, one seed
    for r in runs:
        train = json.loads((proj / f"metrics/train/{r.name}.details.json").read_text())
        assert train["steps"] == 2, r.name
        metric = json.loads((proj / f"metrics/eval/{r.name}.json").read_text())
        assert metric and all(math.isfinite(v) for v in metric.values()), r.name
        details = json.loads((proj / f"metrics/eval/{r.name}.details.json").read_text())
        assert details["provenance"]["standin"] is True, r.name  # trained from a stand-in: flagged
        assert (proj / f"metrics/analysis/{r.name}.json").exists()
    diffcse = json.loads((proj / "metrics/train/diffcse.roberta.s42.details.json").read_text())
    assert diffcse["generator"] == "mlm:distilroberta-base"
    for p in pair_runs(params):
        doc = json.loads((proj / f"metrics/pairs/{p.name}.details.json").read_text())
        assert doc["split"] == "test" and (not doc["applicable"] or doc["test"]), p.name
    assert {p.task for p in pair_runs(params)} == {"stsb", "mrpc", "qqp", "antique", "cqa_a", "cqa_b", "pfcc_s"}
    report = (proj / "metrics/report.md").read_text()
    assert "BERT-base" in report and "RoBERTa-base" in report and "Random stand-in models" in report
