"""prepare -> train -> evaluate -> aggregate through the real dvc.yaml, on a tiny random model, offline.

The project's dvc.yaml, stages and package are copied into a temporary DVC project whose
params.yaml points at a small generated mirror (the fixture mirror with transfer files large
enough for 5-fold CV) and at a tiny BERT built from a config. ``dvc repro`` must build every
table; a second ``dvc repro`` must do nothing and say so.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import MIRROR, build_tiny_model_dir

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


def _dvc(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                        "PYTHONPATH": str(project / "src")}
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("smoke")
    proj = tmp / "proj"
    proj.mkdir()
    for item in ("dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / item, proj / item)
    for folder in ("stages", "src"):
        shutil.copytree(ROOT / folder, proj / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    mirror = make_mirror(tmp / "mirror")
    words = {w for p in mirror.rglob("*") if p.is_file() for w in p.read_text("latin-1").lower().split()}
    model = build_tiny_model_dir(tmp / "model", extra_words=sorted(words))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(mirror_dir=str(mirror), strict_upstream=False, wiki_max_sentences=8,
                          nli_max_triplets=8)
    params["model"]["name_or_path"] = str(model)
    params["train"].update(batch_size=4, eval_steps=1, save_steps=1, max_seq_length=16)
    # One variant per table keeps this near a minute; test_training covers every shipped variant.
    params["variants"] = {k: params["variants"][k] for k in ("simcse_unsup", "mhe_mod")}
    params["variants"]["mhe_mod"]["train"].update(eval_steps=1, save_steps=1)
    params["aggregate"]["paradigm_reference"] = "tiny_cls"
    params["evaluate"].update(mode="fasttest", cache_dir=str(tmp / "cache"))
    params["analyze"].update(min_type_count=2, baseline_samples=4, batch_size=4, dynamics_sentences=4)
    # Pair runs (BSC, methods.md §4): two tasks x three variants, two epochs of 3 batches each.
    params["pairs"]["train"].update(batch_size=4, max_seq_length=16, group_size=2, knn_candidates=4, n_clusters=3,
                                    shingle_size=1)
    params["pairs"]["tasks"] = {k: params["pairs"]["tasks"][k] | {"max_train_pairs": 12} for k in ("stsb", "mrpc")}
    params["pairs"]["variants"] = {k: params["pairs"]["variants"][k] for k in ("none", "bsc", "combo")}
    params["baselines"] = {"tiny_avg": {"model": str(model), "pooler": "avg"},
                           "tiny_cls": {"model": str(model), "pooler": "cls_before_pooler"}}
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    assert _dvc(proj, "init", "--no-scm", "-q").returncode == 0
    return proj


def test_dvc_repro_builds_every_table_then_does_nothing(project: Path) -> None:
    first = _dvc(project, "repro")
    assert first.returncode == 0, first.stdout + first.stderr
    variants = yaml.safe_load((project / "params.yaml").read_text())["variants"]
    runs = {"tiny_avg": "tiny_avg", "tiny_cls": "tiny_cls"} | {v: f"{v}.s42" for v in variants}
    for row, run in runs.items():
        doc = json.loads((project / f"metrics/eval/{run}.json").read_text())
        assert len(doc["scores"]) == (7 if row == "mhe_mod" else 14)  # the paradigm row: STS only
        assert all(math.isfinite(v) for v in doc["scores"].values())
        assert doc["provenance"]["mode"] == "fasttest" and doc["split"] == "test"
    for name in ("sts", "transfer", "paradigm", "pairs", "geometry"):
        for ext in ("md", "csv", "tex"):
            assert (project / f"metrics/tables/{name}.{ext}").stat().st_size > 0
    report = (project / "metrics/report.md").read_text()
    assert all(row in report for row in ("tiny_cls", *variants))
    for variant in variants:
        run = f"{variant}.s42"
        assert json.loads((project / f"metrics/train/{run}.json").read_text())["steps"] == 2
        assert (project / f"metrics/plots/steps/{run}.tsv").read_text().startswith("step\t")
        assert (project / f"metrics/plots/grad/{run}.tsv").read_text().startswith("step\tgd_mean")
        assert (project / f"metrics/plots/dynamics/{run}.tsv").read_text().count("\n") == 3  # header + 2 evals
    for run in ("tiny_avg", "simcse_unsup.s42"):
        analysis = json.loads((project / f"metrics/analysis/{run}.json").read_text())
        assert len(analysis["layers"]) == 3 and analysis["sentences"]["n"] == 8  # embeddings + 2 layers
    for png in ("layers", "align_uniform", "loss", "stsb_dev", "sts_avg", "pair_hardness"):
        assert (project / f"metrics/figures/{png}.png").stat().st_size > 1000 and f"figures/{png}.png" in report
    assert "mhe_mod\tmhe\tmod\t" in (project / "metrics/plots/paradigm/ori_vs_mod.tsv").read_text()
    pairs = json.loads((project / "metrics/pairs/mrpc-bsc.json").read_text())
    assert pairs["split"] == "test" and {"f1", "accuracy"} <= pairs["test"].keys() and pairs["best_epoch"] in (0, 1)
    assert (project / "data/pair_models/mrpc-bsc/model/sentemb.json").exists()
    steps = [json.loads(line) for line in (project / "metrics/pairs/stsb-combo.jsonl").read_text().splitlines()]
    # the fixture STS-B has 6 training pairs: batches of 4 and 2, two epochs
    assert len(steps) == 4 and {"bsc/loss", "mse/loss", "neg_cos_max", "labelled_negatives"} <= steps[0].keys()
    table = (project / "metrics/tables/pairs.md").read_text()
    assert "STS-B Spearman" in table and "MRPC F1" in table and "No fine-tuning" in table
    assert "Batch hardness by shuffle strategy" in report
    shown = _dvc(project, "plots", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    assert {"ori_vs_mod", "sg_margin", "metrics/plots/grad/mhe_mod.s42.tsv",
            "metrics/plots/analysis/tiny_avg.tsv"} <= set(json.loads(shown.stdout)["data"])
    prepare = json.loads((project / "metrics/prepare.json").read_text())
    assert prepare["wiki"]["used"] == 8

    second = _dvc(project, "repro")
    assert second.returncode == 0
    assert "didn't change, skipping" in second.stdout and "Running stage" not in second.stdout


def test_cli_on_raw_senteval_dir_matches_the_stage(project: Path) -> None:
    """`sentemb evaluate` on the raw downstream dir gives the stage's scores (same code path)."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    out = project / "cli.json"
    run = subprocess.run(
        [sys.executable, "-m", "sentemb.cli", "evaluate", "--model", params["baselines"]["tiny_avg"]["model"],
         "--pooler", "avg", "--tasks", "sts", "--mode", "fasttest", "--no-cache", "--output", str(out),
         "--data-dir", str(Path(params["data"]["mirror_dir"]) / "senteval/downstream")],
        capture_output=True, text=True, timeout=120, cwd=project)
    assert run.returncode == 0, run.stderr
    stage = json.loads((project / "metrics/eval/tiny_avg.json").read_text())["scores"]  # a baseline: no seed
    cli = json.loads(out.read_text())["scores"]
    assert cli == {k: stage[k] for k in cli} and len(cli) == 7


def test_cli_rejects_an_unknown_pooler_in_one_line(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "sentemb.cli", "evaluate", "--model", "x", "--pooler", "avgg",
                          "--data-dir", str(tmp_path), "--output", str(tmp_path / "o.json")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "error: --pooler: invalid value 'avgg'; expected one of 'cls', 'cls_before_pooler', 'avg', 'avg_top2', "
        "'avg_first_last' (did you mean 'avg'?)"]
    assert not (tmp_path / "o.json").exists()
