"""check_params -> prepare -> train -> evaluate -> analyze -> finetune_pairs -> aggregate through the
real dvc.yaml, on a tiny random model, offline; then a second `dvc repro` does nothing, a typo
in params.yaml fails the first stage in seconds, before any training, and the results travel
through the shipped default remote: push, fresh clone, pull, clean status, older model restored.

The project's dvc.yaml, .dvc/config, stages and package are copied into a temporary git + DVC
project whose params.yaml is the shipped default pointed at a small generated mirror and a tiny
BERT built from a config, scaled down. Stage commands run on a pre-warmed interpreter
(tests/zygote.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import HANG_S, MIRROR, build_tiny_model_dir
from zygote import warm_python

ROOT = Path(__file__).resolve().parents[1]
POS = "good great fun love movie film the a is very".split()
NEG = "bad boring hate not movie film the a is very".split()


def _lines(words: list[str], n: int, seed: int) -> list[str]:
    return [" ".join(words[(seed + i * k) % len(words)] for k in range(1, 6)) + f" {i}" for i in range(n)]


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_mirror(dst: Path) -> Path:
    """Copy the fixture mirror and grow the transfer files so every CV fold has both classes."""
    shutil.copytree(MIRROR, dst)
    down = dst / "senteval/downstream"
    for task, (pos, neg) in {"MR": ("rt-polarity.pos", "rt-polarity.neg"), "CR": ("custrev.pos", "custrev.neg"),
                             "SUBJ": ("subj.objective", "subj.subjective"), "MPQA": ("mpqa.pos", "mpqa.neg")}.items():
        _write(down / task / pos, _lines(POS, 15, 1))
        _write(down / task / neg, _lines(NEG, 15, 2))
    for split, n in (("train", 30), ("dev", 10), ("test", 10)):
        pos, neg = _lines(POS, n, 3), _lines(NEG, n, 4)
        _write(down / f"SST/binary/sentiment-{split}", [f"{(pos, neg)[i % 2][i]}\t{1 - i % 2}" for i in range(n)])
    classes = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    for name, n in (("train_5500.label", 36), ("TREC_10.label", 12)):
        _write(down / "TREC" / name, [f"{classes[i % 6]}:x what is the {i} ?" for i in range(n)])
    for name, n in (("msr_paraphrase_train.txt", 60), ("msr_paraphrase_test.txt", 12)):
        pairs = zip(_lines(POS, n, 4), _lines(NEG, n, 5))
        rows = [f"{i % 2}\t{i}\t{i + 1}\t{a}\t{b}" for i, (a, b) in enumerate(pairs)]
        _write(down / "MRPC" / name, ["\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String"] + rows)
    # STS-B test: the analysis sentence set; content words recur so every token group is defined
    subjects, verbs = ("a man", "the dog", "a woman", "the cat"), ("is playing music", "is running in the park")
    _write(down / "STS/STSBenchmark/sts-test.csv",
           [f"main-captions\tMSRvid\t2012test\t{i:04d}\t{i * 5 / 7:.3f}\t{subjects[i % 4]} {verbs[i % 2]} .\t"
            f"{subjects[(i + 1) % 4]} {verbs[i % 2]} ." for i in range(8)])
    sums = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  ./{p.relative_to(dst)}"
            for p in sorted(dst.rglob("*")) if p.is_file() and p.name != "SHA256SUMS"]
    _write(dst / "SHA256SUMS", sums)
    return dst


def copy_project(dst: Path) -> Path:
    dst.mkdir(parents=True)
    for item in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(ROOT / item, dst / item)
    for folder in ("stages", "src"):
        shutil.copytree(ROOT / folder, dst / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dst


def tiny_params(raw: dict, mirror: Path, model: Path, cache: Path) -> dict:
    """A params file scaled to a tiny model and mirror (every other key as given)."""
    raw["data"].update(mirror_dir=str(mirror), strict_upstream=False, wiki_max_sentences=8, nli_max_triplets=8)
    raw["train"].update(max_seq_length=16)
    for b in raw["backbones"].values():
        b.update(model=str(model), revision=None)
        b["train"] = {"batch_size": 4, "max_steps": 2, "eval_steps": 1, "save_steps": 1}
        for over in b.get("methods", {}).values():
            over.get("train", {}).pop("eval_steps", None)
            over.get("train", {}).pop("save_steps", None)
            if "batch_size" in over.get("train", {}):
                over["train"]["batch_size"] = 4
    raw["evaluate"].update(mode="fasttest", cache_dir=str(cache))
    raw["analyze"].update(min_type_count=2, baseline_samples=4, batch_size=4, dynamics_sentences=4)
    raw["pairs"]["train"].update(batch_size=4, max_seq_length=16, max_steps=None)
    raw["pairs"]["shuffle"].update(group_size=2, knn_candidates=4, n_clusters=3, shingle_size=1)
    for task in raw["pairs"]["tasks"].values():
        task["max_train_pairs"] = 12
    return raw


def git(project: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=smoke", "-c", "user.email=smoke@example.invalid", *args],
                          cwd=project, capture_output=True, text=True, check=True, timeout=HANG_S).stdout


def init_repo(project: Path, env: dict[str, str]) -> None:
    """git + DVC, with the shipped .dvc/config (its default remote: a folder beside the project)."""
    git(project, "init", "-q")
    assert dvc(project, env, "init", "-q").returncode == 0
    shutil.copy(ROOT / ".dvc" / "config", project / ".dvc" / "config")
    if (ROOT / ".dvc" / "plots").is_dir():  # the offline plots template (make venv builds it)
        shutil.copytree(ROOT / ".dvc" / "plots", project / ".dvc" / "plots")


def dvc(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=project, env=os.environ | env | {
        "DVC_NO_ANALYTICS": "1"}, capture_output=True, text=True, timeout=HANG_S)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("smoke")
    proj = copy_project(tmp / "proj")
    mirror = make_mirror(tmp / "mirror")
    words = {w for p in mirror.rglob("*") if p.is_file() for w in p.read_text("latin-1").lower().split()}
    model = build_tiny_model_dir(tmp / "model", extra_words=sorted(words))
    raw = tiny_params(yaml.safe_load((ROOT / "params.yaml").read_text()), mirror, model, tmp / "cache")
    # One method per table and kind of selection keeps this near a minute; test_training covers every
    # shipped method. simcse_sup keeps the MLP at test (eval_pooler cls).
    raw["methods"] = {k: raw["methods"][k] for k in ("simcse_unsup", "simcse_sup", "mhe_ori", "mhe_mod")}
    raw["backbones"]["minilm"]["methods"].pop("main")
    raw["backbones"]["minilm"]["methods"] = {k: v for k, v in raw["backbones"]["minilm"]["methods"].items()
                                             if k in ("paradigm", *raw["methods"])}
    raw["pairs"]["tasks"] = {k: raw["pairs"]["tasks"][k] for k in ("stsb", "mrpc")}
    raw["pairs"]["methods"] = {k: raw["pairs"]["methods"][k] for k in ("none", "mse", "bsc", "combo")}
    (proj / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with warm_python(proj / "src") as env:
        init_repo(proj, env)
        yield proj, env


def test_dvc_repro_builds_every_table_then_does_nothing(project) -> None:
    project, env = project
    first = dvc(project, env, "repro")
    assert first.returncode == 0, first.stdout + first.stderr
    raw = yaml.safe_load((project / "params.yaml").read_text())
    runs = {"untrained_avg.minilm": 14, "untrained_cls.minilm": 14} | {
        f"{m}.minilm.s42": 7 if raw["methods"][m].get("eval_tasks") == "sts" else 14 for m in raw["methods"]}
    for run, n_tasks in runs.items():
        metric = json.loads((project / f"metrics/eval/{run}.json").read_text())
        details = json.loads((project / f"metrics/eval/{run}.details.json").read_text())
        assert len(details["scores"]) == n_tasks and all(math.isfinite(v) for v in metric.values())
        trained = {"best_dev", "best_step"} if run.endswith(".s42") else set()  # the dev score that selected it
        assert set(metric) == set(details["scores"]) | {"avg_sts", "wall_s"} | trained | (
            {"avg_transfer"} if n_tasks > 7 else set())  # small and flat
        assert details["provenance"]["mode"] == "fasttest" and details["split"] == "test"
        assert (project / f"metrics/eval/{run}.items.npz").stat().st_size > 0
    for name in ("sts", "transfer", "paradigm", "pairs", "geometry"):
        for ext in ("md", "csv", "tex"):
            assert (project / f"metrics/tables/{name}.{ext}").stat().st_size > 0
    report = (project / "metrics/report.md").read_text()
    assert "Unsup. SimCSE" in report and "MHE (modified)" in report and "unverified data" in report
    assert "simcse_unsup" not in report.split("## Provenance")[0]  # labels, not ids, in the tables
    for method in raw["methods"]:
        run = f"{method}.minilm.s42"
        assert json.loads((project / f"metrics/train/{run}.json").read_text())["steps"] == 2
        assert (project / f"metrics/plots/steps/{run}.tsv").read_text().startswith("step\t")
        assert (project / f"metrics/plots/grad/{run}.tsv").read_text().startswith("step\tgd_mean")
        assert (project / f"metrics/plots/dynamics/{run}.tsv").read_text().count("\n") == 3  # header + 2 evals
    for run in ("untrained_avg.minilm", "simcse_unsup.minilm.s42"):
        analysis = json.loads((project / f"metrics/analysis/{run}.details.json").read_text())
        assert len(analysis["layers"]) == 3 and analysis["sentences"]["n"] == 8  # embeddings + 2 layers
    for png in ("layers", "align_uniform", "loss", "stsb_dev", "sts_avg", "sts_forest", "pair_hardness"):
        assert (project / f"metrics/figures/{png}.png").stat().st_size > 1000 and f"figures/{png}.png" in report
    assert "MHE (modified) (all-MiniLM-L6-v2)\tmhe on minilm\tmod\t" in (
        project / "metrics/plots/paradigm/ori_vs_mod.tsv").read_text()
    pairs = json.loads((project / "metrics/pairs/mrpc-bsc.details.json").read_text())
    assert pairs["split"] == "test" and {"f1", "accuracy"} <= pairs["test"].keys() and pairs["best_step"] in (3, 6)
    assert (project / "data/pair_models/mrpc-bsc/model/sentemb.json").exists()
    steps = [json.loads(line) for line in (project / "metrics/pairs/stsb-combo.jsonl").read_text().splitlines()]
    # the fixture STS-B has 6 training pairs: batches of 4 and 2, two epochs
    assert len(steps) == 4 and {"bsc/loss", "mse/loss", "neg_cos_max", "labelled_negatives"} <= steps[0].keys()
    table = (project / "metrics/tables/pairs.md").read_text()
    assert "STS-B Spearman" in table and "MRPC F1" in table and "No fine-tuning (all-MiniLM-L6-v2)" in table
    assert "Compared with" in table and (" (+" in table or " (-" in table)  # BSC and combo vs MSE, per cell
    assert "Batch hardness by shuffle strategy" in report
    shown = dvc(project, env, "plots", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    assert {"ori_vs_mod", "sg_margin", "metrics/plots/grad/mhe_mod.minilm.s42.tsv",
            "metrics/plots/analysis/untrained_avg.minilm.tsv"} <= set(json.loads(shown.stdout)["data"])
    assert json.loads((project / "metrics/prepare.json").read_text())["wiki_used"] == 8

    second = dvc(project, env, "repro")
    assert second.returncode == 0
    assert "didn't change, skipping" in second.stdout and "Running stage" not in second.stdout


def test_a_misspelt_loss_fails_the_first_stage_in_seconds(project) -> None:
    project, env = project
    params = project / "params.yaml"
    good = params.read_text()
    raw = yaml.safe_load(good)
    raw["methods"]["simcse_sup"]["loss"] = "infonse"
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    try:
        started = time.perf_counter()
        run = dvc(project, env, "repro")
        elapsed = time.perf_counter() - started
    finally:
        params.write_text(good)
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "methods.simcse_sup on backbone 'minilm': unknown loss 'infonse'" in out and "did you mean 'infonce'" in out
    assert "Running stage 'check_params'" in out and "Running stage 'train@" not in out
    print(f"typo caught by check_params in {elapsed:.1f} s")  # measured, not asserted (no timed tests)
    assert (project / "metrics/config/train/simcse_sup.minilm.s42.json").exists()  # earlier jobs kept
    restored = dvc(project, env, "status", "--json")
    assert restored.returncode == 0 and json.loads(restored.stdout) == {}


def test_cli_on_raw_senteval_dir_matches_the_stage(project) -> None:
    """`sentemb evaluate` on the raw downstream dir gives the stage's scores (same code path)."""
    project, env = project
    raw = yaml.safe_load((project / "params.yaml").read_text())
    out = project / "cli.json"
    run = subprocess.run(
        [sys.executable, "-m", "sentemb.cli", "evaluate", "--model", raw["backbones"]["minilm"]["model"],
         "--pooler", "avg", "--tasks", "sts", "--mode", "fasttest", "--no-cache", "--output", str(out),
         "--allow-unverified", "--data-dir", str(Path(raw["data"]["mirror_dir"]) / "senteval/downstream")],
        capture_output=True, text=True, timeout=HANG_S, cwd=project, env=os.environ | env)
    assert run.returncode == 0, run.stderr
    stage = json.loads((project / "metrics/eval/untrained_avg.minilm.json").read_text())
    cli = json.loads(out.read_text())["scores"]
    assert cli == {k: stage[k] for k in cli} and len(cli) == 7


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_results_travel_through_the_default_remote(project) -> None:
    """repro -> push -> fresh clone -> pull -> clean status, nothing to rerun; a second commit that
    changes one method retrains only its runs and its metrics diff names only them; checking out
    the first commit restores the first model (`dvc pull` in the clone, `dvc checkout` where the
    cache has it)."""
    project, env = project
    assert dvc(project, env, "repro").returncode == 0  # built by the first test: nothing to do
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "first")
    model = Path("data/models/simcse_unsup.minilm.s42/model/model.safetensors")
    first = _sha(project / model)
    pushed = dvc(project, env, "push")
    assert pushed.returncode == 0, pushed.stderr
    remote = project.parent / "sentemb-dvc-remote"  # ../../sentemb-dvc-remote from .dvc/
    assert any(p.is_file() for p in remote.rglob("*"))

    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["methods"]["simcse_unsup"].setdefault("train", {})["lr"] = 1.0e-3
    (project / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    rerun = dvc(project, env, "repro")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    ran = {line.split("'")[1] for line in rerun.stdout.splitlines() if line.startswith("Running stage")}
    assert ran == {"check_params", "train@simcse_unsup-minilm-42", "evaluate_variant@simcse_unsup-minilm-42",
                   "analyze_variant@simcse_unsup-minilm-42", "aggregate"}, ran
    diff = dvc(project, env, "metrics", "diff", "--json")
    assert diff.returncode == 0 and "metrics/eval/simcse_unsup.minilm.s42.json" in json.loads(diff.stdout)
    assert all(Path(f).name.startswith("simcse_unsup.minilm.s42.") for f in json.loads(diff.stdout)), diff.stdout
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "second: simcse_unsup lr")
    second = _sha(project / model)
    assert second != first and dvc(project, env, "push").returncode == 0

    clone = project.parent / "clone"
    git(project.parent, "clone", "-q", str(project), str(clone))
    pulled = dvc(clone, env, "pull")
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    status = dvc(clone, env, "status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout) == {}, status.stdout
    again = dvc(clone, env, "repro")
    assert again.returncode == 0 and "Running stage" not in again.stdout, again.stdout
    assert _sha(clone / model) == second
    git(clone, "checkout", "-q", "HEAD~1")  # an older result: its outputs come from the remote
    assert dvc(clone, env, "pull").returncode == 0 and _sha(clone / model) == first
    git(project, "checkout", "-q", "HEAD~1")  # where the cache holds both, checkout alone restores it
    try:
        assert dvc(project, env, "checkout").returncode == 0 and _sha(project / model) == first
    finally:
        git(project, "checkout", "-q", "-")
        assert dvc(project, env, "checkout").returncode == 0
