"""The prepare stage: verified raw data in, one normalised, checksummed data directory out.

Order of work (docs/protocol.md §B.4, §F): resolve and verify the source (``sources.py``), parse
every file strictly (``readers.py``), check the known sizes when ``strict_upstream``, subsample
wiki/NLI with a seeded, order-preserving draw, then write everything through one
``atomic_dir`` and only afterwards move the metrics file into place. A failure at any step leaves
neither a new output directory, nor a temporary one, nor a metrics file behind.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from sentemb.config import DataConfig
from sentemb.data.readers import read_nli, read_wiki
from sentemb.data.records import TaskData
from sentemb.data.senteval import read_raw_task, task_rows
from sentemb.data.sources import RawSource, resolve_source
from sentemb.data.tasks import TASKS
from sentemb.errors import ConfigError, DataError
from sentemb.utils.io import atomic_dir, current_umask, sha256_file, write_json, write_jsonl

logger = logging.getLogger(__name__)

T = TypeVar("T")
FORMAT_VERSION = 1


def subsample(items: list[T], limit: int | None, seed: int, key: str) -> list[T]:
    """At most ``limit`` items drawn without replacement by ``default_rng(seed)``, in file order.

    Sorting the drawn indices keeps the corpus order, so a smaller sample is not also a shuffle.
    """
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise ConfigError(f"{key}: must be a positive number or null, got {limit}")
    picked = np.sort(np.random.default_rng(seed).choice(len(items), size=limit, replace=False))
    return [items[int(i)] for i in picked]


def check_known_sizes(counts: dict[str, dict[str, int]], downstream: Path) -> None:
    """Assert the registry's known sizes; a mismatch names the file it came from."""
    for name, task in TASKS.items():
        for split, known in task.splits.items():
            actual = counts[name].get(split, 0)
            if actual != known.size:
                files = known.files
                also = f" (and {', '.join(files[1:])})" if len(files) > 1 else ""
                raise DataError(downstream / files[0],
                                f"{name} {split}: expected {known.size} examples, got {actual}{also}")


def _write_outputs(tmp: Path, wiki: list[str], nli: list[tuple[str, str, str]],
                   tasks: dict[str, TaskData], manifest: dict[str, Any]) -> dict[str, str]:
    """Write the data files and manifest.json into ``tmp``; return the sha256 of each output."""
    with open(tmp / "wiki.txt", "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(f"{sentence}\n" for sentence in wiki)
    write_jsonl(tmp / "nli.jsonl", ({"sent0": a, "sent1": b, "hard_neg": c} for a, b, c in nli))
    for name, task in tasks.items():
        write_jsonl(tmp / "senteval" / f"{name}.jsonl", task_rows(task))
    rels = ["wiki.txt", "nli.jsonl"] + [f"senteval/{name}.jsonl" for name in tasks]
    manifest["sha256"] = {rel: sha256_file(tmp / rel) for rel in rels}
    write_json(tmp / "manifest.json", manifest)
    return {**manifest["sha256"], "manifest.json": sha256_file(tmp / "manifest.json")}


def _stage_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` to a temporary sibling of ``path``; the caller renames it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(obj, handle, indent=2, allow_nan=False)
        handle.write("\n")
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp creates 0600
    return Path(tmp)


def _parse(source: RawSource) -> tuple[list[str], list[tuple[str, str, str]], dict[str, TaskData]]:
    wiki = read_wiki(source.wiki)
    nli = read_nli(source.nli)
    tasks = {name: read_raw_task(name, source.downstream) for name in TASKS}
    logger.debug("parsed %d wiki lines, %d NLI triplets, %d tasks", len(wiki), len(nli), len(tasks))
    return wiki, nli, tasks


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The DVC metric of the prepare stage: what was used, flat (the rest goes to the details)."""
    return {"wiki_used": metrics["wiki"]["used"], "wiki_available": metrics["wiki"]["available"],
            "nli_used": metrics["nli"]["used"], "nli_available": metrics["nli"]["available"],
            "verified": int(metrics["strict_upstream"])}


def details_path(metrics_path: Path) -> Path:
    return metrics_path.with_name(metrics_path.stem + ".details.json")


def _commit(out_dir: Path, metrics_path: Path, wiki: list[str], nli: list[tuple[str, str, str]],
            tasks: dict[str, TaskData], metrics: dict[str, Any]) -> None:
    """Data dir first (atomically), then the metrics files; nothing is left behind on failure."""
    manifest = {"format_version": FORMAT_VERSION, "source": metrics["source"], "tasks": list(tasks),
                "counts": metrics["counts"], "wiki": metrics["wiki"], "nli": metrics["nli"],
                "verified": metrics["strict_upstream"]}
    staged: list[tuple[Path, Path]] = []
    try:
        with atomic_dir(out_dir) as tmp:
            metrics["outputs_sha256"] = _write_outputs(tmp, wiki, nli, tasks, manifest)
            # fully written before the dir is swapped in
            staged = [(_stage_json(details_path(metrics_path), metrics), details_path(metrics_path)),
                      (_stage_json(metrics_path, headline(metrics)), metrics_path)]
        for tmp_path, final in staged:
            os.replace(tmp_path, final)
    finally:
        for tmp_path, _ in staged:
            if tmp_path.exists():
                tmp_path.unlink()


def prepare(cfg: DataConfig, out_dir: Path, metrics_path: Path) -> dict[str, Any]:
    """Run the prepare stage; returns the metrics also written to ``metrics_path``."""
    start = time.perf_counter()
    out_dir, metrics_path = Path(out_dir), Path(metrics_path)
    source = resolve_source(cfg)
    wiki_all, nli_all, tasks = _parse(source)
    counts = {name: {split: len(ex) for split, ex in task.splits.items()} for name, task in tasks.items()}
    if cfg.strict_upstream:
        check_known_sizes(counts, source.downstream)
    wiki = subsample(wiki_all, cfg.wiki_max_sentences, cfg.seed, "data.wiki_max_sentences")
    nli = subsample(nli_all, cfg.nli_max_triplets, cfg.seed, "data.nli_max_triplets")
    metrics: dict[str, Any] = {
        "source": source.describe(),
        "strict_upstream": cfg.strict_upstream,
        "raw_sha256": dict(source.checksums),
        "counts": counts,
        "totals": {name: sum(splits.values()) for name, splits in counts.items()},
        "wiki": {"available": len(wiki_all), "used": len(wiki), "seed": cfg.seed},
        "nli": {"available": len(nli_all), "used": len(nli), "seed": cfg.seed},
    }
    _commit(out_dir, metrics_path, wiki, nli, tasks, metrics)
    # The only INFO line, emitted on success: a failed run prints nothing but its one error line.
    logger.info("prepared %s from %s %s in %.1fs: wiki %d/%d, NLI %d/%d", out_dir, source.name,
                source.location, time.perf_counter() - start, len(wiki), len(wiki_all),
                len(nli), len(nli_all))
    return metrics
