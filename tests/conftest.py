"""Offline fixtures: a tiny randomly initialised BERT built from a config (docs/design.md §7.1), and
a synthetic mirror laid out like the upstream sources.

The mirror's files live in ``fixtures/mirror.json`` (relative path -> text) and are written out
under the upstream file names when the test session starts, so that the real readers, checksum
code and prepare stage run on them. Their contents are invented ("a man is playing some pasta
."); only format headers and a few gold-score values coincide with upstream, and nothing in the
repository poses as upstream data.
"""

from __future__ import annotations

import atexit
import copy
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"
HANG_S = 1800  # subprocess timeouts only stop a hang: a loaded CI machine may be slow


@pytest.fixture()
def restore_root_logging() -> Iterator[None]:
    """The CLI and the stages configure the root logger (INFO, a stderr handler): undo it for later tests."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _write_mirror() -> Path:
    root = Path(tempfile.mkdtemp(prefix="sentemb-fixture-mirror-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    files = json.loads((FIXTURES / "mirror.json").read_text(encoding="utf-8"))
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("latin-1"))  # byte-exact: stored as latin-1-decoded text
    return root


MIRROR = _write_mirror()  # read-only for tests: copy it before changing anything


def _find_real_mirror() -> Path | None:
    """The offline copy of the real upstream data (../shared/data/datasets-for-simcse, or
    $SENTEMB_DATA_MIRROR): present on every dev and CI machine, never committed."""
    env = os.environ.get("SENTEMB_DATA_MIRROR")
    if env:
        return Path(env) if Path(env).is_dir() else None
    for parent in Path(__file__).resolve().parents[1].parents:  # beside the project, or above a worktree of it
        candidate = parent / "shared" / "data" / "datasets-for-simcse"
        if candidate.is_dir():
            return candidate
    return None


REAL_MIRROR = _find_real_mirror()
needs_real_mirror = pytest.mark.skipif(
    REAL_MIRROR is None, reason="no offline data mirror (shared/data/datasets-for-simcse or $SENTEMB_DATA_MIRROR)")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "a the man woman child dog cat is are was playing riding eating running a an on in with of and "
    "to guitar horse bike food park street ball music plane sky water red blue green big small "
    "good bad not very movie film great boring fun love hate what who where when how why ? . , ' s"
).split()


def build_tiny_model_dir(root: Path, extra_words: list[str] | None = None, seed: int = 0) -> Path:
    """Save a 2-layer, hidden-32 BERT with a word-level vocab to ``root`` and return it."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root.mkdir(parents=True, exist_ok=True)
    vocab = SPECIALS + sorted(set(WORDS + (extra_words or [])))
    # A dict, not vocab_file: transformers 5 silently ignores vocab_file (every token -> [UNK]).
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=512)
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(root)
    tokenizer.save_pretrained(root)
    return root


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def _tiny_backbone(tiny_model_dir: Path) -> tuple[object, object]:
    from sentemb.models.encoder import load_backbone

    return load_backbone(tiny_model_dir)


@pytest.fixture()
def tiny_backbone(_tiny_backbone: tuple[object, object]) -> tuple[object, object]:
    """A fresh deepcopy per test, so no test sees another's weight changes."""
    model, tokenizer = _tiny_backbone
    return copy.deepcopy(model), tokenizer
