"""Where the raw data comes from: an offline mirror or the HF hub, verified before any parsing.

Both sources hold the files of the HF dataset repo ``princeton-nlp/datasets-for-simcse``
(docs/protocol.md §B.4): ``wiki1m_for_simcse.txt``, ``nli_for_simcse.csv`` and ``senteval.tar``, which
unpacks to SentEval's ``downstream`` tree (docs/methods.md §0.1). The mirror carries it unpacked under
``senteval/downstream`` next to a ``SHA256SUMS`` file; the hub path downloads the pinned revision,
checks each file against the LFS sha256 the hub reports, and unpacks the tarball into
``data/cache/raw/<revision>/``. With ``strict_upstream`` the evaluation files are further held to
the pinned upstream table (``checksums.py``), so both paths must yield the same bytes.
"""

from __future__ import annotations

import logging
import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sentemb.config import DataConfig
from sentemb.data.checksums import UPSTREAM_SHA256, verify_upstream
from sentemb.data.senteval import eval_files
from sentemb.errors import DataError
from sentemb.utils.io import atomic_dir, sha256_file

logger = logging.getLogger(__name__)

ENV_MIRROR = "SENTEMB_DATA_MIRROR"
WIKI_FILE = "wiki1m_for_simcse.txt"
NLI_FILE = "nli_for_simcse.csv"
SENTEVAL_TAR = "senteval.tar"
HUB_FILES = (WIKI_FILE, NLI_FILE, SENTEVAL_TAR)
DOWNSTREAM = "senteval/downstream"
SUMS_FILE = "SHA256SUMS"
DEFAULT_CACHE_ROOT = Path("data/cache/raw")
_EXTRACTED_MARKER = ".senteval.tar.sha256"

HOW_TO_GET = (
    f"set {ENV_MIRROR} to a complete copy of the HF dataset repo princeton-nlp/datasets-for-simcse "
    "(with senteval.tar unpacked under senteval/downstream and a SHA256SUMS file), or use data.source: hub"
)
_SUMS_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


class HubUnreachableError(DataError):
    """The hub could not be asked or downloaded from (network, auth, unknown revision)."""


@dataclass(frozen=True)
class RawSource:
    """Verified raw inputs: paths to read plus the provenance recorded in the metrics."""

    name: str  # "mirror" or "hub"
    location: str  # the mirror directory, or "<repo>@<revision>"
    revision: str | None
    wiki: Path
    nli: Path
    downstream: Path
    checksums: dict[str, str] = field(default_factory=dict)  # sha256 per raw input, by path in the source

    def describe(self) -> dict[str, Any]:
        return {"kind": self.name, "location": self.location, "revision": self.revision}


def mirror_path(cfg: DataConfig) -> Path:
    """The mirror directory: ``$SENTEMB_DATA_MIRROR`` if set, else ``cfg.mirror_dir`` (cwd-relative)."""
    return Path(os.environ.get(ENV_MIRROR) or cfg.mirror_dir)


def resolve_source(cfg: DataConfig, cache_root: Path | None = None) -> RawSource:
    """Pick the source per ``cfg.source`` (auto: mirror if its directory exists, else hub) and verify it."""
    mirror = mirror_path(cfg)
    if cfg.source == "mirror" or (cfg.source == "auto" and mirror.is_dir()):
        source = mirror_source(mirror)
    else:
        try:
            source = hub_source(cfg, DEFAULT_CACHE_ROOT if cache_root is None else cache_root)
        except HubUnreachableError as exc:
            if cfg.source != "auto":
                raise
            # Offline users most often just lack the mirror: say where we looked.
            raise DataError(exc.path, f"{exc.reason}; no offline mirror at {mirror} either ({HOW_TO_GET})",
                            line=exc.line) from exc
    if cfg.strict_upstream:
        actual = {rel: source.checksums[f"{DOWNSTREAM}/{rel}"] for rel in UPSTREAM_SHA256}
        verify_upstream(source.downstream, actual)
    logger.debug("raw data from %s %s (%d files verified)", source.name, source.location,
                 len(source.checksums))
    return source


# --- offline mirror ------------------------------------------------------------------------


def read_sha256sums(path: Path) -> dict[str, str]:
    """Parse ``sha256sum`` output (``<hex>  ./<path>``) into {path without ./: hex}."""
    if not path.is_file():
        raise DataError(path, f"file not found: the mirror must carry its checksums; {HOW_TO_GET}")
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        found = _SUMS_LINE.match(line)
        if not found:
            raise DataError(path, "expected '<sha256>  <path>'", line=number)
        rel = found.group(2)
        sums[rel[2:] if rel.startswith("./") else rel] = found.group(1).lower()
    return sums


def _verify_mirror_file(root: Path, rel: str, sums: dict[str, str]) -> str:
    path = root / rel
    if not path.is_file():
        raise DataError(path, f"missing from the data mirror; {HOW_TO_GET}")
    expected = sums.get(rel)
    if expected is None:
        raise DataError(root / SUMS_FILE, f"no checksum listed for {rel}")
    actual = sha256_file(path)
    if actual != expected:
        raise DataError(path, f"sha256 mismatch with {SUMS_FILE}: expected {expected}, got {actual}")
    return actual


def mirror_source(root: Path) -> RawSource:
    """Verify every file the pipeline reads against the mirror's SHA256SUMS."""
    if not root.is_dir():
        raise DataError(root, f"offline data mirror not found; {HOW_TO_GET}")
    sums = read_sha256sums(root / SUMS_FILE)
    rels = [WIKI_FILE, NLI_FILE] + [f"{DOWNSTREAM}/{rel}" for rel in eval_files()]
    checksums = {rel: _verify_mirror_file(root, rel, sums) for rel in rels}
    return RawSource(name="mirror", location=str(root), revision=None, wiki=root / WIKI_FILE,
                     nli=root / NLI_FILE, downstream=root / DOWNSTREAM, checksums=checksums)


# --- HF hub --------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def hub_lfs_sha256(repo: str, revision: str, names: tuple[str, ...]) -> dict[str, str]:
    """The LFS sha256 the hub reports for each of ``names`` at ``revision``."""
    from huggingface_hub import HfApi  # imported lazily: slow, and unused offline

    try:
        infos = HfApi().get_paths_info(repo, list(names), expand=True, revision=revision, repo_type="dataset")
    except Exception as exc:  # any network/auth/404 failure becomes one line naming the repo
        reason = f"cannot read file metadata from the hub ({_one_line(exc)})"
        raise HubUnreachableError(f"{repo}@{revision}", reason) from exc
    found: dict[str, str] = {}
    for info in infos:
        lfs = getattr(info, "lfs", None)
        sha = lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)
        if sha:
            found[str(info.path)] = str(sha).lower()
    for name in names:
        if name not in found:
            raise DataError(f"{repo}@{revision}/{name}", "the hub reports no LFS sha256 for this file")
    return found


def hub_download(repo: str, revision: str, name: str) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id=repo, filename=name, repo_type="dataset", revision=revision))
    except Exception as exc:  # same: one actionable line instead of a traceback
        raise HubUnreachableError(f"{repo}@{revision}/{name}", f"download failed ({_one_line(exc)})") from exc


def _check_member(member: tarfile.TarInfo, tar_path: Path) -> None:
    parts = PurePosixPath(member.name).parts
    if member.name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        reason = f"unsafe member {member.name!r} (absolute path or '..'); refusing to extract"
        raise DataError(tar_path, reason)
    if not (member.isfile() or member.isdir()):
        raise DataError(tar_path, f"unsupported member {member.name!r} (links and devices are not extracted)")


def safe_extract(tar_path: Path, dest: Path) -> None:
    """Extract ``tar_path`` into ``dest`` after vetting every member name and type."""
    try:
        with tarfile.open(tar_path) as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, tar_path)
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.10.12: belt and braces
                tar.extractall(dest, members=members, filter="data")
            else:
                tar.extractall(dest, members=members)
    except tarfile.TarError as exc:
        raise DataError(tar_path, f"unreadable tar archive ({_one_line(exc)})") from None


def extract_senteval(tar_path: Path, tar_sha256: str, dest: Path) -> Path:
    """Unpack into ``dest`` atomically; reuse an earlier extraction of the very same tarball."""
    marker = dest / _EXTRACTED_MARKER
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == tar_sha256:
        return dest
    with atomic_dir(dest) as tmp:
        safe_extract(tar_path, tmp)
        (tmp / _EXTRACTED_MARKER).write_text(tar_sha256 + "\n", encoding="utf-8")
    return dest


def find_downstream(root: Path, tar_path: Path) -> Path:
    """The SentEval ``downstream`` dir inside an extraction (the tarball's top folder is not pinned)."""
    for candidate in (root / DOWNSTREAM, root / "downstream", root / "SentEval/data/downstream", root):
        if (candidate / "STS").is_dir():
            return candidate
    raise DataError(tar_path, "no SentEval downstream tree (a folder with STS/) in the archive")


def hub_source(cfg: DataConfig, cache_root: Path) -> RawSource:
    """Download the pinned revision, verify LFS sha256s, unpack senteval.tar into the cache."""
    repo, revision = cfg.hub_repo, cfg.hub_revision
    where = f"{repo}@{revision}"
    expected = hub_lfs_sha256(repo, revision, HUB_FILES)
    local = {name: hub_download(repo, revision, name) for name in HUB_FILES}
    checksums: dict[str, str] = {}
    for name, path in local.items():
        actual = sha256_file(path)
        if actual != expected[name]:
            raise DataError(path, f"sha256 mismatch with the hub's LFS sha256 of {where}/{name}: "
                                  f"expected {expected[name]}, got {actual}")
        checksums[name] = actual
    cache_dir = cache_root / revision.replace("/", "--")  # a branch name like refs/pr/1 stays one folder
    extracted = extract_senteval(local[SENTEVAL_TAR], checksums[SENTEVAL_TAR], cache_dir)
    downstream = find_downstream(extracted, local[SENTEVAL_TAR])
    for rel in eval_files():
        path = downstream / rel
        if not path.is_file():
            raise DataError(path, f"missing from {where}/{SENTEVAL_TAR}")
        checksums[f"{DOWNSTREAM}/{rel}"] = sha256_file(path)
    return RawSource("hub", where, revision, local[WIKI_FILE], local[NLI_FILE], downstream, checksums)
