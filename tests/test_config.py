"""Strict config: params files load; unknown keys, wrong types and unknown names fail with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentemb.config import Params, from_dict, get_baseline, load_params
from sentemb.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", ["params.yaml", "profiles/paper.yaml"])
def test_shipped_params_files_load(path: str) -> None:
    params = load_params(ROOT / path)
    assert params.baselines, "every profile has untrained baseline rows"


def test_embedded_default_uses_the_offline_model() -> None:
    params = load_params(ROOT / "params.yaml")
    assert params.model.name_or_path == "sentence-transformers/all-MiniLM-L6-v2"
    assert {b.pooler for b in params.baselines.values()} >= {"avg", "cls_before_pooler"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"data": {"wiki_max_sentenses": 3}},
         "unknown key 'data.wiki_max_sentenses' (did you mean 'data.wiki_max_sentences'?)"),
        ({"evaluat": {}}, "unknown key 'evaluat' (did you mean 'evaluate'?)"),
        ({"data": {"wiki_max_sentences": "3"}}, "data.wiki_max_sentences: expected int, got str '3'"),
        ({"data": {"seed": 1.5}}, "data.seed: expected int, got float"),
        ({"data": {"strict_upstream": 1}}, "data.strict_upstream: expected bool, got int"),
        ({"evaluate": {"mode": "tests"}}, "evaluate.mode: invalid value 'tests'"),
        ({"evaluate": {"tasks": "tranfer"}}, "(did you mean 'transfer'?)"),
        ({"evaluate": {"first_layer_index": 2}}, "evaluate.first_layer_index: invalid value 2"),
        ({"data": {"source": "mirorr"}}, "(did you mean 'mirror'?)"),
        ({"baselines": {"b": {"model": "m", "pooler": "avg_fist_last"}}}, "(did you mean 'avg_first_last'?)"),
        ({"baselines": {"b": {"pooler": "avg"}}}, "missing key 'baselines.b.model'"),
        ({"baselines": ["a"]}, "baselines: expected a mapping"),
        ({"data": None}, "data: expected a mapping"),
    ],
)
def test_bad_config_is_rejected_with_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        from_dict(Params, raw)
    assert message in str(err.value)


def test_load_params_names_the_file_and_yaml_line(tmp_path: Path) -> None:
    bad = tmp_path / "params.yaml"
    bad.write_text("data:\n  seed: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"params\.yaml:\d+: invalid YAML"):
        load_params(bad)
    bad.write_text("model:\n  nme_or_path: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"params\.yaml: unknown key 'model\.nme_or_path'"):
        load_params(bad)


def test_unknown_baseline_suggests() -> None:
    params = load_params(ROOT / "params.yaml")
    with pytest.raises(ConfigError, match="did you mean 'minilm_avg'"):
        get_baseline(params, "minilm_ag")


def test_config_is_frozen() -> None:
    params = load_params(ROOT / "params.yaml")
    with pytest.raises(AttributeError):
        params.data.seed = 3  # type: ignore[misc]


@pytest.mark.parametrize("path", ["params.yaml", "profiles/paper.yaml"])
def test_every_shipped_variant_resolves(path: str) -> None:
    from sentemb.config import variant_train_config
    from sentemb.losses import build_loss
    from sentemb.training.run import check_variant

    params = load_params(ROOT / path)
    assert params.variants
    for name, variant in params.variants.items():
        check_variant(name, variant)
        assert variant_train_config(params, name).batch_size > 1
        build_loss(variant.loss, **variant.loss_args)  # names and values the loss accepts


def test_variant_train_override_is_strict() -> None:
    from sentemb.config import variant_train_config

    params = from_dict(Params, {"variants": {"v": {"objective": "two_view", "data": "wiki", "train": {"lrr": 1}}}})
    message = r"unknown key 'variants\.v\.train\.lrr' \(did you mean 'variants\.v\.train\.lr'\?\)"
    with pytest.raises(ConfigError, match=message):
        variant_train_config(params, "v")
