"""prepare(): sources (mirror, env override, hub with a faked huggingface_hub), sampling, outputs."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from pathlib import Path
from typing import Any

import huggingface_hub
import pytest
from huggingface_hub.hf_api import BlobLfsInfo

from conftest import MIRROR, REAL_MIRROR, needs_real_mirror
from sentemb.config import DataConfig
from sentemb.data import sources
from sentemb.data.prepare import details_path, headline, prepare
from sentemb.data.senteval import load_task
from sentemb.data.tasks import TASKS
from sentemb.errors import DataError
from sentemb.utils.io import read_json, read_jsonl, sha256_file

FIXTURE = MIRROR
REPO_ID, REV = "princeton-nlp/datasets-for-simcse", "e145e8b"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SENTEMB_DATA_MIRROR", raising=False)
    monkeypatch.chdir(tmp_path)  # the hub cache (data/cache/raw) lands in tmp_path, never the repo


def cfg(mirror: Path | str = FIXTURE, **kw: Any) -> DataConfig:
    return DataConfig(**{"source": "mirror", "mirror_dir": str(mirror), "strict_upstream": False, **kw})


def run(tmp_path: Path, config: DataConfig) -> tuple[dict[str, Any], Path, Path]:
    out, metrics = tmp_path / "prepared", tmp_path / "metrics" / "prepare.json"
    return prepare(config, out, metrics), out, metrics


def copy_mirror(tmp_path: Path) -> Path:
    mirror = tmp_path / "mirror"
    shutil.copytree(FIXTURE, mirror)
    return mirror


def assert_nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "prepared").exists() and not (tmp_path / "metrics").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".prepared")]


# --- mirror ----------------------------------------------------------------------------------


def test_happy_path_on_fixture_mirror(tmp_path: Path) -> None:
    metrics, out, metrics_path = run(tmp_path, cfg())
    assert read_json(metrics_path) == headline(metrics)  # the small DVC metric
    assert read_json(details_path(metrics_path)) == metrics  # everything else beside it
    assert headline(metrics) == {"wiki_used": 20, "wiki_available": 20, "nli_used": 10, "nli_available": 10,
                                 "verified": 0}
    assert metrics["source"] == {"kind": "mirror", "location": str(FIXTURE), "revision": None}
    assert metrics["counts"]["STS12"]["MSRpar"] == 3 and metrics["totals"]["CR"] == 9
    assert metrics["wiki"] == {"available": 20, "used": 20, "seed": 42}
    assert metrics["nli"] == {"available": 10, "used": 10, "seed": 42}
    assert metrics["raw_sha256"]["nli_for_simcse.csv"] == sha256_file(FIXTURE / "nli_for_simcse.csv")
    assert len(metrics["raw_sha256"]) == 2 + 69
    manifest = read_json(out / "manifest.json")
    assert manifest["tasks"] == list(TASKS) and manifest["counts"] == metrics["counts"]
    for rel, sha in metrics["outputs_sha256"].items():
        assert sha256_file(out / rel) == sha
    assert sorted(p.name for p in (out / "senteval").iterdir()) == sorted(f"{t}.jsonl" for t in TASKS)
    assert (out / "wiki.txt").read_text(encoding="utf-8").count("\n") == 20
    nli = read_jsonl(out / "nli.jsonl")
    assert nli[2] == {"sent0": "A man, smiling, plays a guitar.", "sent1": "A man plays.",
                      "hard_neg": "Nobody plays, ever."}
    rows = read_jsonl(out / "senteval" / "MR.jsonl")
    assert rows[0].keys() == {"split", "text_a", "label"} and rows[0]["split"] == "all"
    assert "text_b" in read_jsonl(out / "senteval" / "STS12.jsonl")[0]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_raw_and_prepared_load_task_agree(tmp_path: Path) -> None:
    _, out, _ = run(tmp_path, cfg())
    for name in TASKS:
        assert load_task(name, FIXTURE / "senteval" / "downstream") == load_task(name, out), name


def test_prepared_task_tampering_is_detected(tmp_path: Path) -> None:
    _, out, _ = run(tmp_path, cfg())
    with open(out / "senteval" / "TREC.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"split": "test", "text_a": "x", "label": 0}\n')
    with pytest.raises(DataError, match="TREC.jsonl: sha256 mismatch with manifest.json"):
        load_task("TREC", out)


def test_checksum_mismatch_names_file_and_both_hashes(tmp_path: Path) -> None:
    mirror = copy_mirror(tmp_path)
    target = mirror / "senteval/downstream/MR/rt-polarity.neg"
    expected = sha256_file(target)
    target.write_bytes(target.read_bytes() + b"one more line .\n")
    with pytest.raises(DataError) as info:
        run(tmp_path, cfg(mirror))
    message = str(info.value)
    assert message.startswith(f"{target}: sha256 mismatch with SHA256SUMS")
    assert expected in message and sha256_file(target) in message
    assert_nothing_written(tmp_path)


def test_missing_file_names_expected_path(tmp_path: Path) -> None:
    mirror = copy_mirror(tmp_path)
    (mirror / "senteval/downstream/STS/STS15-en-test/STS.gs.images.txt").unlink()
    with pytest.raises(DataError) as info:
        run(tmp_path, cfg(mirror))
    expected = mirror / "senteval/downstream/STS/STS15-en-test/STS.gs.images.txt"
    assert str(info.value).startswith(f"{expected}: missing from the data mirror")
    assert "SENTEMB_DATA_MIRROR" in str(info.value) and "source: hub" in str(info.value)
    assert_nothing_written(tmp_path)


def test_missing_mirror_with_source_mirror(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere: offline data mirror not found; set SENTEMB_DATA_MIRROR"):
        run(tmp_path, cfg(tmp_path / "nowhere"))


def test_strict_upstream_rejects_fixture_bytes(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        run(tmp_path, cfg(strict_upstream=True))
    first = FIXTURE / "senteval/downstream/STS/STS12-en-test/STS.input.MSRpar.txt"
    assert str(info.value).startswith(f"{first}: sha256 differs from the pinned upstream")
    assert_nothing_written(tmp_path)


def test_env_override_of_mirror_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTEMB_DATA_MIRROR", str(FIXTURE))
    metrics, _, _ = run(tmp_path, cfg(tmp_path / "does-not-exist", source="auto"))
    assert metrics["source"]["kind"] == "mirror" and metrics["source"]["location"] == str(FIXTURE)


def test_failure_leaves_previous_outputs_untouched(tmp_path: Path) -> None:
    _, out, metrics_path = run(tmp_path, cfg())
    before = (read_json(out / "manifest.json"), metrics_path.read_bytes())
    mirror = copy_mirror(tmp_path)
    (mirror / "wiki1m_for_simcse.txt").write_text("x\n")  # checksum mismatch
    with pytest.raises(DataError):
        run(tmp_path, cfg(mirror))
    assert (read_json(out / "manifest.json"), metrics_path.read_bytes()) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_wiki_and_nli_sampling_is_seeded_and_order_preserving(tmp_path: Path) -> None:
    metrics, out, _ = run(tmp_path, cfg(wiki_max_sentences=7, nli_max_triplets=4, seed=3))
    assert metrics["wiki"] == {"available": 20, "used": 7, "seed": 3}
    assert metrics["nli"] == {"available": 10, "used": 4, "seed": 3}
    full = [" ".join(s.split()) for s in (FIXTURE / "wiki1m_for_simcse.txt").read_text().splitlines()]
    sample = (out / "wiki.txt").read_text().splitlines()
    positions = [full.index(s) for s in sample]
    assert positions == sorted(positions) and len(set(positions)) == 7
    again, out2, _ = run(tmp_path / "again", cfg(wiki_max_sentences=7, nli_max_triplets=4, seed=3))
    assert (out2 / "wiki.txt").read_text() == "\n".join(sample) + "\n"
    assert again["outputs_sha256"] == metrics["outputs_sha256"]
    _, out3, _ = run(tmp_path / "other", cfg(wiki_max_sentences=7, seed=4))
    assert (out3 / "wiki.txt").read_text().splitlines() != sample
    assert len(read_jsonl(out / "nli.jsonl")) == 4


# --- hub (huggingface_hub faked with local files) ----------------------------------------------


def make_hub(tmp_path: Path, top: str = "downstream", extra: tarfile.TarInfo | None = None) -> Path:
    """A fake hub snapshot: wiki, NLI and a senteval.tar built from the fixture's downstream tree."""
    hub = tmp_path / "hub"
    hub.mkdir()
    for name in ("wiki1m_for_simcse.txt", "nli_for_simcse.csv"):
        shutil.copy(FIXTURE / name, hub / name)
    with tarfile.open(hub / "senteval.tar", "w") as tar:
        tar.add(FIXTURE / "senteval" / "downstream", arcname=top)
        if extra is not None:
            tar.addfile(extra, io.BytesIO(b"pwned"))
    return hub


def fake_hub(monkeypatch: pytest.MonkeyPatch, hub: Path, bad_sha: set[str] = frozenset()) -> list[tuple]:
    calls: list[tuple] = []

    def download(repo_id: str, filename: str, *, repo_type: str, revision: str, **_: Any) -> str:
        calls.append(("download", repo_id, filename, repo_type, revision))
        return str(hub / filename)

    class Api:
        def get_paths_info(self, repo_id: str, paths: list[str], *, expand: bool = False,
                           revision: str | None = None, repo_type: str | None = None) -> list[Any]:
            calls.append(("info", repo_id, tuple(paths), repo_type, revision))
            out = []
            for p in paths:
                sha = "0" * 64 if p in bad_sha else hashlib.sha256((hub / p).read_bytes()).hexdigest()
                lfs = BlobLfsInfo(size=(hub / p).stat().st_size, sha256=sha, pointer_size=134)
                out.append(type("RepoFile", (), {"path": p, "lfs": lfs})())
            return out

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    return calls


def test_hub_download_verify_and_extract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_hub(monkeypatch, make_hub(tmp_path))
    metrics, out, _ = run(tmp_path, cfg(source="hub", hub_repo=REPO_ID, hub_revision=REV))
    assert metrics["source"] == {"kind": "hub", "location": f"{REPO_ID}@{REV}", "revision": REV}
    assert {c[3] for c in calls} == {"dataset"} and {c[4] for c in calls} == {REV}
    assert metrics["raw_sha256"]["senteval.tar"] == sha256_file(tmp_path / "hub" / "senteval.tar")
    cache = tmp_path / "data" / "cache" / "raw" / REV
    assert (cache / "downstream" / "STS" / "STS12-en-test").is_dir()
    mirror_metrics, _, _ = run(tmp_path / "m", cfg())
    assert metrics["counts"] == mirror_metrics["counts"]
    sst2 = "senteval/SST2.jsonl"
    assert metrics["outputs_sha256"][sst2] == mirror_metrics["outputs_sha256"][sst2]
    # A second run reuses the extraction of the very same tarball.
    monkeypatch.setattr(sources, "safe_extract", lambda *a: pytest.fail("re-extracted"))
    again, _, _ = run(tmp_path, cfg(source="hub", hub_repo=REPO_ID, hub_revision=REV))
    assert again["counts"] == metrics["counts"]


def test_auto_falls_back_to_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_hub(monkeypatch, make_hub(tmp_path, top="senteval/downstream"))
    metrics, _, _ = run(tmp_path, cfg(tmp_path / "no-mirror", source="auto"))
    assert metrics["source"]["kind"] == "hub" and calls


def test_hub_checksum_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_hub(monkeypatch, make_hub(tmp_path), bad_sha={"nli_for_simcse.csv"})
    with pytest.raises(DataError) as info:
        run(tmp_path, cfg(source="hub"))
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'hub' / 'nli_for_simcse.csv'}: sha256 mismatch with the hub")
    assert "0" * 64 in message and sha256_file(tmp_path / "hub" / "nli_for_simcse.csv") in message
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("name", ["../evil", "/abs/evil", "downstream/../../evil"])
def test_hub_tar_with_unsafe_member_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    member = tarfile.TarInfo(name)
    member.size = 5
    fake_hub(monkeypatch, make_hub(tmp_path, extra=member))
    with pytest.raises(DataError, match=f"senteval.tar: unsafe member '{name}'"):
        run(tmp_path, cfg(source="hub"))
    assert not (tmp_path / "evil").exists() and not Path("/abs/evil").exists()
    cache = tmp_path / "data" / "cache" / "raw"
    assert not cache.exists() or not any(cache.iterdir())  # the temp extraction dir is gone too
    assert_nothing_written(tmp_path)


def test_hub_unreachable_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Api:
        def get_paths_info(self, *a: Any, **k: Any) -> list[Any]:
            raise OSError("Network is unreachable\nretries exhausted")

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    with pytest.raises(DataError) as info:
        run(tmp_path, cfg(tmp_path / "no-mirror", source="auto", hub_revision=REV))
    message = str(info.value)
    assert message.startswith(f"{REPO_ID}@{REV}: cannot read file metadata from the hub (OSError: Network")
    assert "\n" not in message and "no offline mirror at" in message
    assert_nothing_written(tmp_path)




@pytest.mark.slow
@needs_real_mirror
def test_real_mirror_strict_known_sizes(tmp_path: Path) -> None:
    metrics, _, _ = run(tmp_path, cfg(REAL_MIRROR, strict_upstream=True, wiki_max_sentences=10000))
    assert metrics["totals"]["STS12"] == 3108 and metrics["counts"]["SST2"]["train"] == 67349
    assert metrics["wiki"]["used"] == 10000
