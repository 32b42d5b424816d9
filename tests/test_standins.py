"""The offline stand-ins of the paper profile's hub models (sentemb.standins): built into a
Hugging Face cache, they load through the project's own hub-id path (``resolve_model_path`` ->
``huggingface_hub.snapshot_download``, offline) with the real architectures and vocabularies.
They check mechanics only: no test here looks at a score.

huggingface_hub reads ``HF_HUB_OFFLINE`` and ``HF_HUB_CACHE`` once, when
``huggingface_hub.constants`` is imported (earlier tests have imported it), so the in-process
tests set the variables *and* patch those constants; ``test_env_vars_alone_suffice_in_a_fresh_process``
checks the route a user takes (``HF_HUB_OFFLINE=1 HF_HUB_CACHE=DIR dvc repro``): the variables
alone, in a new interpreter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import HANG_S, MIRROR, REAL_MIRROR
from sentemb import standins
from sentemb.cli import main
from sentemb.errors import ConfigError
from sentemb.models.encoder import load_backbone, resolve_model_path
from sentemb.objectives.generators import build_generator
from sentemb.standins import MARKER, STANDINS, build_standin, offline_hub, populate_hf_cache

ROOT = Path(__file__).resolve().parents[1]
CORPUS = (REAL_MIRROR or MIRROR) / "wiki1m_for_simcse.txt"  # the real wiki head when present
PAIRS = [("bert-base-uncased", "distilbert-base-uncased"), ("roberta-base", "distilroberta-base")]


def _paper_hub_ids() -> tuple[set[str], set[str]]:
    """(backbone models, DiffCSE generators) named in profiles/paper.yaml."""
    doc = yaml.safe_load((ROOT / "profiles" / "paper.yaml").read_text(encoding="utf-8"))
    backbones, generators = set(), set()
    for backbone in (doc.get("backbones") or {}).values():
        if not backbone:
            continue  # null deletes a backbone of params.yaml
        backbones.add(backbone["model"])
        for method in (backbone.get("methods") or {}).values():
            generator = ((method or {}).get("objective_args") or {}).get("generator")
            if generator is not None:
                generators.add(generator)
    return backbones, generators


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return populate_hf_cache(tmp_path_factory.mktemp("hf-cache"), corpus=CORPUS)


@pytest.fixture()
def offline(cache: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process pointed at the stand-in cache, offline: the variables, and the constants
    huggingface_hub computed from them at import."""
    from huggingface_hub import constants

    root = next(iter(cache.values())).parents[2]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root))
    return root


pytestmark = pytest.mark.usefixtures("restore_root_logging")


def test_every_hub_id_of_the_paper_profile_has_a_standin() -> None:
    backbones, generators = _paper_hub_ids()
    assert backbones == {"bert-base-uncased", "roberta-base"}, backbones  # the parse found them
    assert generators == {"distilbert-base-uncased", "distilroberta-base"}, generators
    assert backbones | generators <= set(STANDINS)
    for backbone, generator in PAIRS:
        assert STANDINS[backbone].vocab == STANDINS[generator].vocab


@pytest.mark.parametrize("model_id", list(STANDINS))
def test_standin_loads_through_the_hub_id_path(model_id: str, cache: dict[str, Path], offline: Path) -> None:
    from transformers import AutoModelForMaskedLM

    spec = STANDINS[model_id]
    path = resolve_model_path(model_id)  # the project's own path: snapshot_download, offline
    assert path == cache[model_id]
    repo = offline / f"models--{model_id}"
    assert path.parent == repo / "snapshots" and re.fullmatch(r"[0-9a-f]{40}", path.name)
    assert (repo / "refs" / "main").read_text() == path.name
    assert (path / "model.safetensors").is_symlink() and (path / "model.safetensors").resolve().parent == repo / "blobs"
    marker = json.loads((path / MARKER).read_text())
    assert marker["standin_for"] == model_id and marker["random_weights"] is True
    assert "mean nothing" in marker["warning"]

    model, tokenizer = load_backbone(path)  # what training/evaluation/DiffCSE's discriminator do
    assert model.config.model_type == spec.model_type
    if spec.auto_class == "AutoModel":
        assert type(model).__name__ == spec.loaded_class
        # as the real checkpoints: bert-base-uncased stores its pooler, roberta-base does not
        assert model.missing_pooler is (spec.model_type == "roberta")
    else:
        model = AutoModelForMaskedLM.from_pretrained(str(path))  # what MLMGenerator does
        assert type(model).__name__ == spec.loaded_class
    layers = model.config.n_layers if spec.model_type == "distilbert" else model.config.num_hidden_layers
    assert layers == spec.layers

    model.eval()
    long = " ".join(["word"] * 600)  # truncated to the full 512 positions (514 with RoBERTa's offset)
    enc = tokenizer(["A man is playing a guitar.", long], padding=True, truncation=True, return_tensors="pt")
    assert enc["input_ids"].shape[1] == 512
    with torch.no_grad():
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    values = out.logits if spec.auto_class != "AutoModel" else out.last_hidden_state
    assert torch.isfinite(values).all()
    if spec.auto_class != "AutoModel":
        assert values.shape[-1] == len(tokenizer)


def test_bert_standin_tokenizes_like_bert_base_uncased(cache: dict[str, Path]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(cache["bert-base-uncased"]))
    assert type(tokenizer).__name__ in ("BertTokenizerFast", "BertTokenizer")  # one class in transformers 5
    assert tokenizer("Hello world")["input_ids"] == [101, 7592, 2088, 102]  # bert-base-uncased's ids
    assert tokenizer("HELLO World")["input_ids"] == [101, 7592, 2088, 102]  # uncased
    ids = [tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id,
           tokenizer.mask_token_id]
    assert ids == [0, 100, 101, 102, 103]
    lines = standins.wordpiece_vocab_file().read_text(encoding="utf-8").splitlines()
    assert len(tokenizer) == len(lines) == 30522
    assert tokenizer.get_vocab() == {token: i for i, token in enumerate(lines)}


def test_roberta_standin_has_robertas_special_ids_and_is_byte_level(cache: dict[str, Path]) -> None:
    from transformers import AutoModel, AutoTokenizer

    path = cache["roberta-base"]
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    assert type(tokenizer).__name__ in ("RobertaTokenizerFast", "RobertaTokenizer")  # one class in transformers 5
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3]) == ["<s>", "<pad>", "</s>", "<unk>"]
    assert (tokenizer.cls_token_id, tokenizer.bos_token_id, tokenizer.pad_token_id) == (0, 0, 1)
    assert (tokenizer.sep_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (2, 2, 3)
    assert tokenizer.mask_token_id == len(tokenizer) - 1 and len(tokenizer) <= standins.BPE_VOCAB
    text = "Zürich, naïve café — 日本語 🙂 «ok» ñ"
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2 and 3 not in ids  # byte-level: nothing is unknown
    assert tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False) == text
    # positions count from padding_idx + 1 over non-pad tokens: padding changes no real token's state
    model = AutoModel.from_pretrained(str(path)).eval()
    batch = tokenizer(["a short one", "a much longer sentence than the other one"], padding=True,
                      return_tensors="pt")
    alone = tokenizer(["a short one"], return_tensors="pt")
    with torch.no_grad():
        padded = model(**batch).last_hidden_state[0, : alone["input_ids"].shape[1]]
        single = model(**alone).last_hidden_state[0]
    torch.testing.assert_close(padded, single, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("backbone", "generator"), PAIRS)
def test_generator_shares_its_backbones_vocab(backbone: str, generator: str, cache: dict[str, Path],
                                              offline: Path) -> None:
    from transformers import AutoTokenizer

    _, tokenizer = load_backbone(resolve_model_path(backbone))
    generator_tokenizer = AutoTokenizer.from_pretrained(str(resolve_model_path(generator)))
    assert generator_tokenizer.get_vocab() == tokenizer.get_vocab()
    assert generator_tokenizer.all_special_ids == tokenizer.all_special_ids
    gen = build_generator(generator, tokenizer, seed=0)  # DiffCSE's own check of the pair, by hub id
    assert gen.name == f"mlm:{generator}" and gen.vocab_size == len(tokenizer)
    enc = tokenizer(["a man is playing a guitar", "the dog runs"], padding=True, return_tensors="pt")
    masked = enc["input_ids"].clone()
    masked[:, 1] = tokenizer.mask_token_id
    out = gen.generate(masked, enc["attention_mask"], enc["input_ids"])
    assert out.shape == masked.shape and int(out.max()) < len(tokenizer)
    other = PAIRS[1][1] if generator == PAIRS[0][1] else PAIRS[0][1]
    with pytest.raises(ConfigError, match="must share the encoder's vocabulary"):
        build_generator(other, tokenizer, seed=0)


def test_bpe_and_standins_are_deterministic(tmp_path: Path, cache: dict[str, Path]) -> None:
    out = build_standin("distilroberta-base", tmp_path / "standin", corpus=CORPUS)
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert {"config.json", "model.safetensors", "tokenizer.json", MARKER} <= {str(f) for f in first}
    commit = standins.fake_commit(out)
    assert build_standin("distilroberta-base", out, corpus=CORPUS) == out  # a stand-in is replaced
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == first  # byte for byte
    assert standins.fake_commit(out) == commit
    # populate_hf_cache trains the BPE once for both RoBERTa ids: the same files as a lone build
    assert cache["distilroberta-base"].name == commit == standins.fake_commit(cache["distilroberta-base"])


def test_build_standin_never_replaces_a_real_model(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="not a stand-in; refusing"):
        build_standin("bert-base-uncased", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_the_default_corpus_is_the_mirrors_wiki(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(standins.ENV_MIRROR, str(MIRROR))
    assert standins.find_corpus() == MIRROR / "wiki1m_for_simcse.txt"
    monkeypatch.setenv(standins.ENV_MIRROR, str(MIRROR / "nowhere"))
    with pytest.raises(ConfigError, match="no corpus"):
        standins.find_corpus()


def test_env_vars_alone_suffice_in_a_fresh_process(cache: dict[str, Path]) -> None:
    root = next(iter(cache.values())).parents[2]
    code = ("import json; from sentemb.models.encoder import resolve_model_path as r; "
            f"print(json.dumps({{m: str(r(m)) for m in {list(cache)!r}}}))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env |= standins.hub_env(root) | {"PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=HANG_S)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {m: str(p) for m, p in cache.items()}


def test_offline_hub_patches_and_restores(cache: dict[str, Path]) -> None:
    from huggingface_hub import constants

    root = next(iter(cache.values())).parents[2]
    before = (constants.HF_HUB_OFFLINE, constants.HF_HUB_CACHE, os.environ.get("HF_HUB_CACHE"))
    with offline_hub(root):
        assert resolve_model_path("bert-base-uncased") == cache["bert-base-uncased"]
    assert (constants.HF_HUB_OFFLINE, constants.HF_HUB_CACHE, os.environ.get("HF_HUB_CACHE")) == before


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(["standins", *args])
    except SystemExit as exc:
        captured = capsys.readouterr()
        return int(exc.code or 0), captured.out, captured.err
    captured = capsys.readouterr()
    return 0, captured.out, captured.err


def test_cli_builds_the_cache_and_prints_the_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "cache"
    code, out, err = _cli(["--hf-cache", str(target), "--models", "distilbert-base-uncased"], capsys)
    assert code == 0, err
    assert out.splitlines() == ["export HF_HUB_OFFLINE=1", f"export HF_HUB_CACHE={target.resolve()}"]
    assert "mean nothing" in err
    assert [p.name for p in target.iterdir()] == ["models--distilbert-base-uncased"]
    with offline_hub(target):
        assert standins.is_standin(resolve_model_path("distilbert-base-uncased"))


def _real_download(tmp_path: Path) -> list[str]:
    snapshot = tmp_path / "cache" / "models--bert-base-uncased" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    return ["--hf-cache", str(tmp_path / "cache"), "--models", "bert-base-uncased"]


def _cache_is_a_file(tmp_path: Path) -> list[str]:
    (tmp_path / "file").write_text("x")
    return ["--hf-cache", str(tmp_path / "file")]


BAD = [
    ("unknown-id", lambda t: ["--hf-cache", str(t / "c"), "--models", "gpt2"], r"no stand-in for 'gpt2'"),
    ("no-id", lambda t: ["--hf-cache", str(t / "c"), "--models", " , "], r"--models: no model id given"),
    ("cache-is-a-file", _cache_is_a_file, r"--hf-cache: .*/file cannot be used as a directory"),
    ("no-corpus", lambda t: ["--hf-cache", str(t / "c"), "--models", "roberta-base", "--corpus", str(t / "none")],
     r".*/none: no such corpus file"),
    ("shadows-a-real-download", _real_download, r".*models--bert-base-uncased: this cache already holds a real"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_cli_bad_input_is_one_line_and_exit_2(case: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _id, setup, pattern = case
    args = setup(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    code, out, err = _cli(args, capsys)
    assert code == 2 and out == "", err
    lines = [line for line in err.splitlines() if not re.match(r"\d\d:\d\d:\d\d (INFO|WARNING) ", line)]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.match(pattern, lines[0][len("error: "):]), lines[0]
    assert sorted(tmp_path.rglob("*")) == before  # nothing built, nothing overwritten
