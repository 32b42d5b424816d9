"""The paper profile, mechanically, through the real dvc.yaml: every method on every backbone it
names (BERT-base and RoBERTa-base, DiffCSE's DistilBERT / DistilRoBERTa generators), every pair
task it names (the online ones from a pre-filled download cache), prepare -> train ->
evaluate_variant -> analyze_variant -> finetune_pairs -> aggregate, 2 steps each, offline.

The profile runs as a few slices, each its own DVC project (see ``slices``); a test checks that
together they cover every method x backbone and every pair cell. The hub ids of
profiles/paper.yaml are kept as they are: they resolve, with HF_HUB_OFFLINE=1, to
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
# the stage scripts' imports, loaded once in the warm interpreter (the slices share one src tree)
PRELOAD = ("sentemb.config.check", "sentemb.config.resolve", "sentemb.data.prepare", "sentemb.training.run",
           "sentemb.evaluation.runner", "sentemb.analysis.run", "sentemb.pairs.run", "sentemb.reporting.report")


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


def _components(methods: dict[str, dict]) -> list[list[str]]:
    """Methods grouped so that a row and the row it is compared with stay together."""
    groups: dict[str, list[str]] = {}
    for name, m in methods.items():
        root = name
        while methods.get(root, {}).get("reference") in methods:
            root = methods[root]["reference"]
        groups.setdefault(root, []).append(name)
    return list(groups.values())


def _pack(groups: list[list[str]], size: int) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for group in groups:
        if out[-1] and len(out[-1]) + len(group) > size:
            out.append([])
        out[-1] += group
    return out


def _no_baselines(raw: dict) -> dict:
    return {"baselines": {}, "aggregate": raw["aggregate"] | {"main_reference": None, "paradigm_reference": None}}


def slices(raw: dict) -> list[tuple[str, dict]]:
    """The scaled paper profile cut into slices that each run as one DVC project: one backbone's
    methods of one table (paradigm in two halves), or a few pair tasks with every pair method;
    the untrained baselines run in each backbone's main slice only.
    DVC rewrites the whole dvc.lock after every stage, so one project of ~220 stages spends its
    time in YAML (quadratic in the stage count); slices of ~35 stages keep that to seconds."""
    out = []
    for backbone, spec in raw["backbones"].items():
        for table in (None, "paradigm"):
            methods = {k: v for k, v in raw["methods"].items() if v.get("table") == table}
            for k, part in enumerate(_pack(_components(methods), 9)):
                over = {k2: v for k2, v in spec.get("methods", {}).items() if k2 in part or k2 in ("main", "paradigm")}
                cut = raw | {"backbones": {backbone: spec | {"methods": over}},
                             "methods": {m: raw["methods"][m] for m in part},
                             "pairs": raw["pairs"] | {"tasks": {}, "methods": {}}}
                if table is not None:
                    cut |= _no_baselines(raw)
                out.append((f"{backbone}-{table or 'main'}-{k}", cut))
    pairs_backbone = raw["pairs"]["backbone"]
    tasks = list(raw["pairs"]["tasks"])
    for k in range(0, len(tasks), 3):
        cut = raw | _no_baselines(raw) | {
            "backbones": {pairs_backbone: raw["backbones"][pairs_backbone] | {"methods": {}}}, "methods": {},
            "pairs": raw["pairs"] | {"tasks": {t: raw["pairs"]["tasks"][t] for t in tasks[k:k + 3]}}}
        out.append((f"pairs-{'-'.join(tasks[k:k + 3])}", cut))
    return out


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory):
    """What every slice shares: the mirror, the stand-ins' hub cache, the pair download cache,
    the embedding cache and one warm interpreter (with the offline hub variables)."""
    tmp = tmp_path_factory.mktemp("paper")
    mirror = make_mirror(tmp / "mirror")
    corpus = REAL_MIRROR / "wiki1m_for_simcse.txt" if REAL_MIRROR else mirror / "wiki1m_for_simcse.txt"
    populate_hf_cache(tmp / "hf", corpus=corpus)
    populate_pair_cache(tmp / "pair-cache")
    raw = scaled_paper_params(mirror, tmp / "cache", tmp / "pair-cache")
    src = copy_project(tmp / "src-copy") / "src"  # every slice is a copy of this same tree
    with warm_python(src, env=hub_env(tmp / "hf"), preload=PRELOAD) as env:
        yield tmp, raw, env


PAPER = scaled_paper_params(Path("mirror"), Path("cache"), Path("pair-cache"))
SLICES = slices(PAPER)


def test_the_slices_cover_every_method_backbone_and_pair_cell_of_the_paper_profile() -> None:
    params = from_dict(Params, PAPER)
    assert set(params.backbones) == {"bert", "roberta"}
    assert {b.model for b in params.backbones.values()} | {"distilbert-base-uncased", "distilroberta-base"} <= set(
        STANDINS)
    covered = {r.name for _, cut in SLICES for r in train_runs(from_dict(Params, cut))}
    assert covered == {r.name for r in train_runs(params)} and len(covered) == 2 * len(params.methods)
    cells = {p.name for _, cut in SLICES for p in pair_runs(from_dict(Params, cut))}
    assert cells == {p.name for p in pair_runs(params)} and len(cells) == 7 * len(params.pairs.methods)
    assert max(len(train_runs(from_dict(Params, c))) * 3 + len(pair_runs(from_dict(Params, c))) for _, c in SLICES) < 40


@pytest.mark.parametrize("name", [n for n, _ in SLICES])
def test_paper_slice_runs_through_dvc(name: str, assets) -> None:
    tmp, raw, env = assets
    cut = dict(slices(raw))[name]  # the same slice, with this session's paths
    proj = copy_project(tmp / name)
    (proj / "params.yaml").write_text(yaml.safe_dump(cut, sort_keys=False))
    assert dvc(proj, env, "init", "--no-scm", "-q").returncode == 0
    run = dvc(proj, env, "repro")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    params = from_dict(Params, cut)
    for r in train_runs(params):
        train = json.loads((proj / f"metrics/train/{r.name}.details.json").read_text())
        assert train["steps"] == 2, r.name
        metric = json.loads((proj / f"metrics/eval/{r.name}.json").read_text())
        assert metric and all(math.isfinite(v) for v in metric.values()), r.name
        details = json.loads((proj / f"metrics/eval/{r.name}.details.json").read_text())
        assert details["provenance"]["standin"] is True, r.name  # trained from a stand-in: flagged
        assert (proj / f"metrics/analysis/{r.name}.json").exists()
        if r.method == "diffcse":
            generator = {"bert": "mlm:distilbert-base-uncased", "roberta": "mlm:distilroberta-base"}[r.backbone]
            assert train["generator"] == generator
    for p in pair_runs(params):
        doc = json.loads((proj / f"metrics/pairs/{p.name}.details.json").read_text())
        assert doc["split"] == "test" and (not doc["applicable"] or doc["test"]), p.name
    report = (proj / "metrics/report.md").read_text()
    assert params.backbones[next(iter(params.backbones))].label in report and "Random stand-in models" in report
