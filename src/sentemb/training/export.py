"""Export a trained encoder as one directory that both HF and sentence-transformers load.

The directory holds the backbone in plain HF format (``AutoModel.from_pretrained``), the
tokenizer, the sentence-transformers module files (``SentenceTransformer(path)`` reads the same
weights plus a Pooling module, and a tanh Dense module when the MLP is kept), and
``sentemb.json`` recording the pooler to evaluate with and the train-time head (docs/design.md §3.4).

With ``eval_pooler == "cls"`` (supervised SimCSE keeps its MLP, docs/methods.md §1.8) the MLP weights
are copied into the backbone's pooler, so the HF model's ``pooler_output`` is the trained MLP,
exactly as SimCSE's ``simcse_to_huggingface.py`` conversion does.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sentemb.errors import ConfigError
from sentemb.utils.io import atomic_dir

_ST_POOLING = {"avg": "mean", "cls_before_pooler": "cls", "cls": "cls"}


def _with_mlp_as_pooler(backbone: nn.Module, head: nn.Module) -> nn.Module:
    out = copy.deepcopy(backbone)
    pooler = getattr(out, "pooler", None)
    linear = next(m for m in head.modules() if isinstance(m, nn.Linear))
    if pooler is None or not hasattr(pooler, "dense"):
        raise ConfigError("eval_pooler 'cls' needs a backbone with a pooler layer to hold the MLP")
    with torch.no_grad():
        pooler.dense.weight.copy_(linear.weight)
        pooler.dense.bias.copy_(linear.bias)
    return out


def _dim(word: Any) -> int:
    # sentence-transformers 6 renamed get_word_embedding_dimension; support both spellings.
    getter = getattr(word, "get_embedding_dimension", None) or word.get_word_embedding_dimension
    return int(getter())


def _save_sentence_transformer(tmp: Path, eval_pooler: str, head: nn.Module | None) -> None:
    from sentence_transformers import SentenceTransformer, models

    word = models.Transformer(str(tmp))
    mods: list[nn.Module] = [word, models.Pooling(_dim(word), _ST_POOLING[eval_pooler])]
    if eval_pooler == "cls":
        linear = next(m for m in head.modules() if isinstance(m, nn.Linear))  # type: ignore[union-attr]
        dim = linear.out_features
        mods.append(models.Dense(dim, dim, activation_function=nn.Tanh(),
                                 init_weight=linear.weight.detach().clone(), init_bias=linear.bias.detach().clone()))
    SentenceTransformer(modules=mods, device="cpu").save(str(tmp))


def export_model(out_dir: Path, backbone: nn.Module, tokenizer: Any, *, eval_pooler: str, head: nn.Module | None,
                 meta: dict[str, Any]) -> None:
    """Write the exported model to ``out_dir`` atomically (replacing an earlier export)."""
    model = _with_mlp_as_pooler(backbone, head) if eval_pooler == "cls" else backbone
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if eval_pooler in _ST_POOLING:
            _save_sentence_transformer(tmp, eval_pooler, head)
        (tmp / "sentemb.json").write_text(json.dumps({"eval_pooler": eval_pooler, **meta}, indent=2) + "\n")
