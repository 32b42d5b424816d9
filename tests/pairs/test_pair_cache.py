"""``populate_pair_cache`` (source_fixtures.py): after it, every online pair task of the paper
profile loads, trains-ready and scores through the pipeline's own code -- ``run.load_pair_task``
(``fetch_<name>`` with the modules' real upstream URLs, then ``read_<name>``), the loop's
datasets and ``run.scores`` (the ranking-set evaluation for ranking tasks) -- with urllib unable
to open anything but ``file://`` URLs."""

from __future__ import annotations

import dataclasses
import inspect
import json
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import pytest
from source_fixtures import PAPER_PAIRS_SCALED_DOWN, populate_pair_cache

from sentemb.config import Params, from_dict, merge_patch, read_yaml
from sentemb.config.resolve import pair_job
from sentemb.layout import PairRun
from sentemb.losses import build_loss
from sentemb.pairs.run import _dataset, load_pair_task, scores
from sentemb.pairs.sources import PAIR_SOURCES, QQP_DEV_SIZE, QQP_TRAIN_SIZE, ranking_set
from sentemb.utils.io import sha256_file

ROOT = Path(__file__).resolve().parents[2]
# the paper profile as `sentemb profile profiles/paper.yaml` makes it (merge patch onto params.yaml)
PAPER_RAW = merge_patch(read_yaml(ROOT / "params.yaml"), read_yaml(ROOT / "profiles" / "paper.yaml"))
PAPER = from_dict(Params, PAPER_RAW)
ONLINE = [name for name, t in PAPER.pairs.tasks.items() if t.source in PAIR_SOURCES]
BATCH = 4  # the batch size of the scaled-down pipeline runs these caches are for


def block_network(mp: pytest.MonkeyPatch) -> list[str]:
    """Make ``urllib.request.urlopen`` refuse every URL but ``file://``; returns the refused URLs."""
    refused: list[str] = []
    real = urllib.request.urlopen

    def urlopen(url, *args, **kwargs):
        target = url.full_url if isinstance(url, urllib.request.Request) else str(url)
        if not target.startswith("file:"):
            refused.append(target)
            raise urllib.error.URLError(f"no network in this test: {target}")
        return real(url, *args, **kwargs)

    mp.setattr(urllib.request, "urlopen", urlopen)
    return refused


@pytest.fixture
def offline(monkeypatch) -> list[str]:
    return block_network(monkeypatch)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pair-cache")
    with pytest.MonkeyPatch.context() as mp:
        refused = block_network(mp)
        populate_pair_cache(root)
    assert refused == []
    return root


class HashEncoder:
    """Stands in for SentenceEncoder in ``run.scores``: hashed bag of words, no model."""

    def encode(self, texts: list[str], batch_size: int, max_len: int) -> np.ndarray:
        out = np.zeros((len(texts), 64), dtype=np.float32)
        out[:, 0] = 1.0
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, 1 + zlib.crc32(word.encode()) % 63] += 1.0
        return out


def test_the_paper_profile_has_every_online_source():
    assert {PAPER.pairs.tasks[name].source for name in ONLINE} == set(PAIR_SOURCES)


@pytest.mark.parametrize("name", ONLINE)
def test_online_task_loads_trains_and_scores_offline(name, cache, offline, tmp_path):
    t = PAPER.pairs.tasks[name]
    jobs = [pair_job(PAPER, PairRun(name, method)) for method in PAPER.pairs.methods]
    for seed in sorted({job.train.seed for job in jobs}):
        task = load_pair_task(t, name, tmp_path / "no-prepared-data", cache, seed)
        assert task.kind == PAIR_SOURCES[t.source].kind and set(task.splits) == {"train", "dev", "test"}
        for split, pairs in task.splits.items():
            assert len(pairs) >= (2 * BATCH if split == "train" else 2), split
            if task.kind == "classification":
                assert {p.label for p in pairs} == {0.0, 1.0}, split
                continue
            rset = ranking_set(t.source, cache / t.source, task, split)  # what a ranking split is scored on
            assert len(rset.queries) >= 2, split
            for qid in rset.queries:  # PFCC-S: every verified claim is a candidate of every tweet
                candidates = rset.corpus if rset.candidates is None else rset.candidates[qid]
                labels = [rset.qrels[qid].get(doc, 0.0) for doc in candidates]
                assert max(labels) >= t.relevant_at > min(labels), (split, qid)
        for job in jobs:  # the datasets the loop trains on (triplets only where the job applies)
            if job.applicable and job.method.loss is not None:
                data = _dataset(job, task, build_loss(job.method.loss, **job.loss_args))
                assert len(data) >= BATCH and len(data.batch(np.arange(BATCH)).sentences) == BATCH
        for split in ("dev", "test"):  # the stage's scoring: RankingSet of the source for ranking tasks
            metrics = scores(task, split, HashEncoder(), t, 90, 16, cache)
            assert set(t.table_metrics) <= set(metrics) and all(np.isfinite(v) for v in metrics.values())
    assert offline == []


def test_populated_files_are_what_fetch_expects(cache, offline):
    for name, source in PAIR_SOURCES.items():
        before = {p: (sha256_file(p), p.stat().st_mtime_ns) for p in cache.rglob("*") if p.is_file()}
        root = source.fetch(cache)  # the module's default, real URLs
        assert root.parent == cache  # cache/<its folder>: CQA-A and CQA-B share semeval_cqa/
        after = {p: (sha256_file(p), p.stat().st_mtime_ns) for p in cache.rglob("*") if p.is_file()}
        provenance = root / "provenance.json"
        assert {p: v for p, v in after.items() if p != provenance} == {p: v for p, v in before.items()
                                                                        if p != provenance}  # nothing new
        default = list(inspect.signature(source.fetch).parameters.values())[1].default
        defaults = default if isinstance(default, tuple) else (default,)
        files = json.loads(provenance.read_text())["files"]
        assert all(any(f["url"].startswith(d) for d in defaults) for f in files)  # Antique's: base URL + name
        assert all(any(f["url"].startswith(d) for f in files) for d in defaults)
        assert all(sha256_file(root / f["file"]) == f["sha256"] for f in files)
    assert offline == []


def test_qqp_sizes_and_the_scaled_down_train_sample(cache, offline, tmp_path):
    t = PAPER.pairs.tasks["qqp"]
    task = load_pair_task(t, "qqp", tmp_path, cache, 42)
    # read_qqp samples the paper's 10k train / 3k dev; dev is then 10 % of that train, test GLUE's dev
    assert len(task.splits["train"]) + len(task.splits["dev"]) == QQP_TRAIN_SIZE
    assert len(task.splits["dev"]) == round(0.1 * QQP_TRAIN_SIZE) and len(task.splits["test"]) == QQP_DEV_SIZE
    small = load_pair_task(dataclasses.replace(t, max_train_pairs=16), "qqp", tmp_path, cache, 42)
    assert len(small.splits["train"]) == 16 and {p.label for p in small.splits["train"]} == {0.0, 1.0}
    assert offline == []


def test_scaled_down_paper_runs_train_a_few_batches_of_four(cache, offline, tmp_path):
    params = from_dict(Params, merge_patch(PAPER_RAW, PAPER_PAIRS_SCALED_DOWN))
    assert params.pairs.trials == 1
    for name in ONLINE:
        jobs = [pair_job(params, PairRun(name, m)) for m in params.pairs.methods]
        tasks = {seed: load_pair_task(params.pairs.tasks[name], name, tmp_path, cache, seed)
                 for seed in {job.train.seed for job in jobs}}
        for job in jobs:
            if job.applicable and job.method.loss is not None:
                assert (job.train.batch_size, job.train.epochs) == (BATCH, 1), job.run
                data = _dataset(job, tasks[job.train.seed], build_loss(job.method.loss, **job.loss_args))
                assert 2 * BATCH <= len(data) <= 64, job.run  # 2 to 16 steps
    assert offline == []


def test_populate_pair_cache_selected_sources_is_idempotent_and_rejects_unknown(tmp_path, offline):
    populate_pair_cache(tmp_path, ["antique", "antique"])
    assert [p.name for p in tmp_path.iterdir()] == ["antique"]
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    populate_pair_cache(tmp_path, ["antique"])
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == files
    with pytest.raises(ValueError, match="not online pair sources: stsb"):
        populate_pair_cache(tmp_path, ["stsb"])
    assert offline == []


def test_antique_counts_grades_3_and_4_relevant():
    """Antique grades g in 1-4 become (g - 1) / 3; the paper's relevance is g >= 3, i.e. >= 2/3 in
    floating point (0.6667 would drop grade 3)."""
    t = PAPER.pairs.tasks["antique"]
    assert (3 - 1) / 3 >= t.relevant_at > (2 - 1) / 3
