"""Strict config: params files load; unknown keys, wrong types and unknown names fail with a hint;
methods resolve on each backbone in the documented order; the paper profile is an overlay."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from sentemb.config import Params, from_dict, load_params, merge_patch
from sentemb.config.check import check_params
from sentemb.config.profile import apply_profile
from sentemb.config.resolve import jobs, resolve_method, resolve_train, train_runs
from sentemb.errors import ConfigError
from sentemb.layout import TrainRun

ROOT = Path(__file__).resolve().parents[1]
BACKBONE = {"backbones": {"b": {"model": "m", "label": "B"}}}


def paper(tmp_path: Path) -> Params:
    """The shipped paper profile, applied to a copy of the shipped default."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    return apply_profile(tmp_path / "params.yaml", ROOT / "profiles" / "paper.yaml")


def test_default_loads_checks_and_uses_the_offline_model() -> None:
    params = load_params(ROOT / "params.yaml")
    check_params(params)
    assert [b.model for b in params.backbones.values()] == ["sentence-transformers/all-MiniLM-L6-v2"]
    assert {b.pooler for b in params.baselines.values()} == {"avg", "cls_before_pooler"}


def test_paper_profile_is_a_short_overlay_of_the_same_methods(tmp_path: Path) -> None:
    overlay = (ROOT / "profiles" / "paper.yaml").read_text().splitlines()
    assert len(overlay) < 100
    assert "methods:" not in [line.strip() for line in overlay if not line.startswith(" ")]  # no method redefined
    params, default = paper(tmp_path), load_params(ROOT / "params.yaml")
    assert params.profile == "paper" and set(params.backbones) == {"bert", "roberta"}
    assert params.methods == default.methods  # one definition per method, in both profiles
    assert len(train_runs(params)) == len(default.methods) * 2 * 3  # method x backbone x seed


def test_applying_the_overlay_twice_gives_the_same_file(tmp_path: Path) -> None:
    paper(tmp_path)
    once = (tmp_path / "params.yaml").read_text()
    apply_profile(tmp_path / "params.yaml", ROOT / "profiles" / "paper.yaml")
    assert (tmp_path / "params.yaml").read_text() == once


@pytest.mark.parametrize(("method", "backbone", "field", "value"), [
    ("simcse_sup", "bert", "eval_pooler", "cls"),  # the method's own recipe
    ("simcse_unsup", "minilm", "eval_pooler", "avg"),  # the default backbone's table override
    ("diffcse", "roberta", "objective_args", {"generator": "distilroberta-base", "masking_ratio": 0.2,
                                              "lambda_weight": 0.005}),  # merged key by key
    ("esimcse", "minilm", "objective_args", {"dup_rate": 0.32, "queue_size": 160, "momentum": 0.995,
                                             "momentum_init": "copy_pretrained"}),
    ("esimcse", "bert", "objective_args", {"dup_rate": 0.32, "queue_size": 160, "momentum": 0.995,
                                           "momentum_init": "random_reference"}),  # the official start
    ("mhs_mod", "roberta", "loss_args", {"lambd": 1.0, "w_gd": True, "w_r": True, "margin": 0.27, "ratio": 1.0}),
])
def test_methods_resolve_on_each_backbone(tmp_path: Path, method: str, backbone: str, field: str,
                                         value: object) -> None:
    params = paper(tmp_path) if backbone != "minilm" else load_params(ROOT / "params.yaml")
    assert getattr(resolve_method(params, method, backbone), field) == value


@pytest.mark.parametrize(("method", "backbone", "expected"), [
    ("simcse_unsup", "bert", (64, 3e-5, 1)), ("simcse_unsup", "roberta", (512, 1e-5, 1)),  # SimCSE Table A.1
    ("simcse_sup", "bert", (512, 5e-5, 3)), ("simcse_sup", "roberta", (512, 5e-5, 3)),  # sup base: both 5e-5
    ("esimcse", "roberta", (64, 1e-5, 1)), ("diffcse", "bert", (64, 7e-6, 2)), ("diffcse", "roberta", (64, 1e-5, 2)),
    ("para_infonce", "bert", (128, 1e-5, 1)), ("mhs_ori", "bert", (128, 5e-6, 1)),
    ("bt_ori", "roberta", (512, 1e-6, 1)), ("bt_mod", "roberta", (512, 1e-5, 1)),
])
def test_paper_scale_per_backbone(tmp_path: Path, method: str, backbone: str, expected: tuple) -> None:
    cfg = resolve_train(paper(tmp_path), TrainRun(method, backbone, 43))
    assert (cfg.batch_size, cfg.lr, cfg.epochs) == expected and cfg.seed == 43
    assert cfg.freeze_embeddings == method.startswith(("para_", "mhs_", "bt_"))


def test_every_job_of_both_profiles_resolves(tmp_path: Path) -> None:
    for params in (load_params(ROOT / "params.yaml"), paper(tmp_path)):
        check_params(params)
        out = jobs(params)
        assert len(out["train"]) == len(train_runs(params)) and len(out["aggregate"]) == 1


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
        ({"evaluate": {"batch_size": 0}}, "evaluate.batch_size must be >= 1"),
        ({"data": {"source": "mirorr"}}, "(did you mean 'mirror'?)"),
        ({"baselines": {"b": {"pooler": "avg_fist_last", "label": "x"}}}, "(did you mean 'avg_first_last'?)"),
        ({"baselines": {"b": {"pooler": "avg"}}}, "missing key 'baselines.b.label'"),
        ({"baselines": ["a"]}, "baselines: expected a mapping"),
        ({"data": None}, "data: expected a mapping"),
        ({"backbones": {}}, "backbones: at least one backbone is needed"),
        ({"train": {"batch_size": 0}}, "train: batch_size must be >= 1"),
    ],
)
def test_bad_config_is_rejected_with_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        from_dict(Params, BACKBONE | raw)
    assert message in str(err.value)


def _with(change: dict) -> Params:
    """The shipped default with ``change`` merged in (a merge patch)."""
    return from_dict(Params, merge_patch(yaml.safe_load((ROOT / "params.yaml").read_text()), change))


@pytest.mark.parametrize(("change", "message"), [
    ({"methods": {"simcse_sup": {"loss": "infonse"}}}, "methods.simcse_sup on backbone 'minilm': unknown loss "
                                                        "'infonse'"),
    ({"methods": {"simcse_sup": {"loss_args": {"temprature": 0.1}}}}, "did you mean 'temperature'"),
    ({"methods": {"esimcse": {"objective_args": {"queue_sise": 4}}}}, "did you mean 'queue_size'"),
    ({"methods": {"esimcse": {"objective_args": {"dup_rate": 2.0}}}}, "dup_rate must be in [0, 1)"),
    ({"methods": {"simcse_unsup": {"objective": "two_veiw"}}}, "did you mean 'two_view'"),
    ({"methods": {"simcse_unsup": {"data": "nli", "loss_args": {"hard_negative_weight": 1.0}}},
      "backbones": {"minilm": {"methods": {"simcse_unsup": {"data": "wiki"}}}}}, "requires hard_negative"),
    ({"methods": {"para_mpt": {"reference": "para_mtp"}}}, "did you mean 'para_mpt'"),
    ({"backbones": {"minilm": {"methods": {"simcse_unsp": {"train": {"lr": 1.0}}}}}}, "did you mean 'simcse_unsup'"),
    ({"backbones": {"minilm": {"train": {"lrr": 1.0}}}}, "unknown key 'backbones.minilm.train.lrr' (did you mean "
                                                         "'backbones.minilm.train.lr'?)"),
    ({"pairs": {"tasks": {"mrpc": {"shuffle": {"group_sise": 4}}}}},
     "did you mean 'pairs.tasks.mrpc.shuffle.group_size'"),
    ({"aggregate": {"main_reference": "untrained_avgg"}}, "did you mean 'untrained_avg'"),
    ({"pairs": {"methods": {"bsc": {"loss": "bcs"}}}}, "did you mean 'bsc'"),
    ({"pairs": {"tasks": {"stsb": {"loss_args": {"bsc": {"norm": "l2"}}}}}}, "norm must be one of"),
    ({"pairs": {"tasks": {"mrpc": {"table_metrics": ["f1", "acuracy"]}}}}, "did you mean 'accuracy'"),
    ({"pairs": {"methods": {"triplet": {"loss": "triplet", "label": "T", "data": "pairs"}}}},
     "needs explicit triplets"),
    ({"methods": {"bad.name": {"objective": "two_view", "data": "wiki", "label": "x"}}}, "names may hold only"),
    ({"pairs": {"tasks": {"stsb": {"source_args": {"train_size": 10}}}}}, "only an online source"),
    ({"pairs": {"tasks": {"qqp": {"source": "qqp", "label": "QQP", "metric": "f1", "table_metrics": ["f1"],
                                  "source_args": {"train_sise": 10}}}}}, "did you mean 'train_size'"),
])
def test_check_params_rejects_a_bad_value_with_its_key(change: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_params(_with(change))
    assert message in str(err.value)


def test_load_params_names_the_file_and_yaml_line(tmp_path: Path) -> None:
    bad = tmp_path / "params.yaml"
    bad.write_text("data:\n  seed: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"params\.yaml:\d+: invalid YAML"):
        load_params(bad)
    bad.write_text("data:\n  sed: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"params\.yaml: unknown key 'data\.sed' \(did you mean 'data\.seed'\?\)"):
        load_params(bad)


def test_config_is_frozen() -> None:
    params = load_params(ROOT / "params.yaml")
    with pytest.raises(AttributeError):
        params.data.seed = 3  # type: ignore[misc]


def test_merge_patch_is_rfc7386() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert merge_patch(base, {"a": {"b": None, "c": [3]}, "e": {"f": 1}}) == {"a": {"c": [3]}, "d": 1, "e": {"f": 1}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # not modified
