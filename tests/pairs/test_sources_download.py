"""Online pair sources (docs/methods.md §4.6): ``download`` (atomic, checksummed), run offline on
``file://`` URLs."""

from __future__ import annotations

import logging

import pytest
from source_fixtures import write

from sentemb.errors import DataError
from sentemb.pairs.sources import download
from sentemb.utils.io import sha256_file


def test_download_file_url_with_correct_sha256(tmp_path):
    source = write(tmp_path / "src" / "blob.bin", "some bytes\n")
    digest = sha256_file(source)
    dest = tmp_path / "cache" / "blob.bin"
    assert download(source.as_uri(), dest, digest) == digest
    assert dest.read_bytes() == b"some bytes\n"
    assert download(source.as_uri(), dest, digest.upper()) == digest  # hex case does not matter


def test_download_wrong_sha256_raises_and_leaves_nothing(tmp_path):
    source = write(tmp_path / "src" / "blob.bin", "some bytes\n")
    dest = tmp_path / "cache" / "blob.bin"
    with pytest.raises(DataError, match="sha256 mismatch"):
        download(source.as_uri(), dest, "0" * 64)
    assert list((tmp_path / "cache").iterdir()) == []  # neither dest nor a temporary file


def test_download_unpinned_returns_digest_and_logs(tmp_path, caplog):
    source = write(tmp_path / "src" / "blob.bin", "some bytes\n")
    with caplog.at_level(logging.WARNING, logger="sentemb.pairs.sources"):
        digest = download(source.as_uri(), tmp_path / "blob.bin", None)
    assert digest == sha256_file(source)
    assert "not pinned" in caplog.text and digest in caplog.text


def test_download_rejects_malformed_digest_and_reports_missing_source(tmp_path):
    with pytest.raises(ValueError, match="64 hex digits"):
        download((tmp_path / "x").as_uri(), tmp_path / "y", "abc")
    with pytest.raises(DataError, match="download failed"):
        download((tmp_path / "missing.bin").as_uri(), tmp_path / "y", None)
    assert not (tmp_path / "y").exists()
