"""Downloading the online pair sources: atomic, checksummed downloads and safe unzipping.

``_fetch`` downloads (and unzips) a source's upstream files into ``cache_dir/<name>`` and writes
``provenance.json`` (URL, sha256, whether it was pinned); each source module's ``fetch_<name>``
calls it with that source's URLs.

No sha256 is pinned yet (nothing could be downloaded where this was written): ``download``
verifies a digest when given one, and otherwise returns the digest it computed and logs that
the file is unpinned; add it to ``PINNED_SHA256`` after checking the first download.
"""

from __future__ import annotations

import hashlib
import logging
import re
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from sentemb.errors import DataError
from sentemb.utils.io import atomic_dir, atomic_open, sha256_file, write_json

log = logging.getLogger(__name__)

# url -> sha256 of the verified download. Empty: fill from provenance.json after checking a first
# download; never invent a digest.
PINNED_SHA256: dict[str, str] = {}

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


def download(url: str, dest: str | Path, sha256: str | None = None, timeout: float = 60.0) -> str:
    """Download ``url`` to ``dest`` atomically; return the file's sha256.

    The bytes go to a temporary sibling that is renamed over ``dest`` only when complete and,
    if ``sha256`` is given, matching; a mismatch raises ``DataError`` and leaves no file behind.
    With ``sha256=None`` the download is unpinned: it is logged, and the computed digest is
    returned for the caller to record in its provenance. Works with ``file://`` URLs.
    """
    if sha256 is not None and not _SHA256.fullmatch(sha256.lower()):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    dest = Path(dest)
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_open(dest, "wb") as out:
            for block in iter(lambda: response.read(_CHUNK), b""):
                digest.update(block)
                out.write(block)
            actual = digest.hexdigest()
            if sha256 is not None and actual != sha256.lower():
                reason = f"sha256 mismatch: expected {sha256.lower()}, got {actual}; {dest.name} not written"
                raise DataError(url, reason)
    except OSError as exc:  # URLError and HTTPError are OSErrors
        raise DataError(url, f"download failed ({exc})") from None
    if sha256 is None:
        log.warning("%s is not pinned: downloaded with sha256 %s (record it in PINNED_SHA256)", url, actual)
    return actual


def _filename(url: str) -> str:
    name = url.rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise ValueError(f"cannot take a file name from {url!r}")
    return name


def _safe_extract(archive: Path, target: Path) -> None:
    """Unzip ``archive`` into ``target`` (once), refusing members that would land outside it."""
    if target.exists():
        return
    try:
        with zipfile.ZipFile(archive) as zf, atomic_dir(target) as tmp:
            for member in zf.namelist():
                parts = PurePosixPath(member.replace("\\", "/")).parts
                if member.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise DataError(archive, f"unsafe member path {member!r} in archive")
            zf.extractall(tmp)
    except zipfile.BadZipFile as exc:
        raise DataError(archive, f"not a readable zip archive ({exc})") from None


def _fetch(cache_dir: str | Path, name: str, urls: tuple[str, ...], unzip: bool) -> Path:
    """Download ``urls`` into ``cache_dir/name`` (skipping files already there) and record provenance.

    Archives are kept under ``downloads/`` and unpacked next to it into a folder named after the
    archive; plain files land in ``cache_dir/name`` directly.
    """
    root = Path(cache_dir) / name
    records = []
    for url in urls:
        pinned = PINNED_SHA256.get(url)
        dest = (root / "downloads" if unzip else root) / _filename(url)
        if dest.exists():
            digest = sha256_file(dest)
            if pinned is not None and digest != pinned:
                raise DataError(dest, f"cached file has sha256 {digest}, pinned {pinned}; delete it to download again")
        else:
            digest = download(url, dest, pinned)
        if unzip:
            _safe_extract(dest, root / dest.name.removesuffix(".zip"))
        records.append({"url": url, "file": dest.relative_to(root).as_posix(), "sha256": digest,
                        "pinned": pinned is not None})
    write_json(root / "provenance.json", {"source": name, "files": records})
    return root
