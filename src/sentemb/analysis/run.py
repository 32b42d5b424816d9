"""Run the geometry analysis of docs/methods.md §6.1 and §7.1 on one model.

The sentence set is fixed and checksummed: the first sentence of every STS-B **test** pair, in
file order (the isotropy paper's corpus, §6.1), read from the prepare stage's output. Every
hidden layer 0..L (0 = embedding output) is analysed at the token level; the model's own pooler
gives the sentence-level alignment/uniformity (§7.1: positive pairs = STS-B test pairs with
gold > 4, data = every distinct STS-B test sentence) and the singular-value spectrum.

Token groups for the self-similarity split: ``special`` = the tokenizer's special ids;
``function`` = tokens whose text is in scikit-learn's English stop-word list (318 words);
``content`` = other tokens containing a letter (word pieces included). Punctuation and numbers
belong to no group (they still count in the overall value).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from sentemb.analysis import geometry as g
from sentemb.config import AnalyzeConfig
from sentemb.config.jobs import AnalyzeJob
from sentemb.data.senteval import load_task
from sentemb.models.encoder import SentenceEncoder

ROGUE_K = (1, 3, 10)
SENTENCE_SOURCE = "STS-B test, first sentence of each pair, file order"


def analysis_data(prepared_dir: Path) -> tuple[list[str], list[tuple[str, str, float]]]:
    """The fixed sentence set and the STS-B test pairs (text_a, text_b, gold 0-5)."""
    test = load_task("STSBenchmark", prepared_dir).splits["test"]
    return [ex.text_a for ex in test], [(ex.text_a, ex.text_b or "", float(ex.label)) for ex in test]


def checksum(sentences: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sentences).encode("utf-8")).hexdigest()


@torch.inference_mode()
def hidden_layers(encoder: SentenceEncoder, sentences: Sequence[str], batch_size: int
                  ) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
    """Per layer, each sentence's (T_i, D) token states without padding; and each sentence's ids."""
    was_training = encoder.training
    encoder.eval()
    layers: list[list[np.ndarray]] = []
    ids: list[np.ndarray] = []
    device = next(encoder.backbone.parameters()).device
    try:
        for start in range(0, len(sentences), batch_size):
            enc = encoder.tokenizer(list(sentences[start:start + batch_size]), padding=True, return_tensors="pt")
            enc = {k: v.to(device) for k, v in enc.items()}
            out = encoder.backbone(**enc, output_hidden_states=True, return_dict=True)
            lengths = enc["attention_mask"].sum(dim=1).tolist()
            if not layers:
                layers = [[] for _ in out.hidden_states]
            for layer, states in zip(layers, out.hidden_states):
                # padding is on the right for BERT-style tokenizers: the first `length` positions
                layer += [states[i, :n].float().cpu().numpy() for i, n in enumerate(lengths)]
            ids += [enc["input_ids"][i, :n].cpu().numpy() for i, n in enumerate(lengths)]
    finally:
        encoder.train(was_training)
    return layers, ids


def token_groups(tokenizer: Any, ids: Sequence[np.ndarray]) -> dict[str, set[int]]:
    present = {t for sent in ids for t in np.asarray(sent).tolist()}
    special = set(tokenizer.all_special_ids) & present
    groups: dict[str, set[int]] = {"special": special, "function": set(), "content": set()}
    for t in present - special:
        text = tokenizer.convert_ids_to_tokens(int(t)).lower()
        if text in ENGLISH_STOP_WORDS:
            groups["function"].add(t)
        elif any(c.isalpha() for c in text):
            groups["content"].add(t)
    return groups


def layer_metrics(layer: list[np.ndarray], ids: list[np.ndarray], groups: dict[str, set[int]],
                  s: AnalyzeConfig, rng: np.random.Generator) -> dict[str, Any]:
    baseline = g.anisotropy_baseline(layer, rng, s.baseline_samples)
    occ = g.type_occurrences(layer, ids, s.min_type_count, s.occurrence)
    out: dict[str, Any] = {"anisotropy_baseline": baseline, "n_types": len(occ)}
    for name, types in (("all", None), *groups.items()):
        raw = g.self_similarity(occ, types)
        out[f"self_sim_{name}"] = raw
        out[f"self_sim_{name}_adjusted"] = None if raw is None else raw - baseline
    intra = g.intra_sentence_similarity(layer)
    out |= {"intra_sim": intra, "intra_sim_adjusted": intra - baseline}
    shares = [g.rogue_shares(v) for v in occ.values()]
    out |= {f"rogue_top{k}": float(np.mean([g.top_k_share(sh, k) for sh in shares])) if shares else None
            for k in ROGUE_K}
    return out | g.norm_stats(layer)


def sentence_metrics(encoder: SentenceEncoder, pairs: list[tuple[str, str, float]], s: AnalyzeConfig,
                     data_pairs: int | None = None) -> dict[str, Any]:
    """§7.1 and the spectrum with the model's pooler: alignment over every pair with gold >
    ``align_threshold``; uniformity and spectrum over the distinct sentences of the first
    ``data_pairs`` pairs (all by default). Alignment is None when no pair is positive."""
    positive = [(a, b) for a, b, gold in pairs if gold > s.align_threshold]
    data = list(dict.fromkeys(t for a, b, _ in pairs[:data_pairs] for t in (a, b)))
    texts = list(dict.fromkeys(data + [t for pair in positive for t in pair]))
    vecs = encoder.encode(texts, s.batch_size)
    index = {t: i for i, t in enumerate(texts)}
    align = None
    if positive:
        align = g.alignment(vecs[[index[a] for a, _ in positive]], vecs[[index[b] for _, b in positive]])
    spectrum = g.singular_spectrum(vecs[[index[t] for t in data]])
    return {"alignment": align, "uniformity": g.uniformity(vecs[[index[t] for t in data]]),
            "n_positive_pairs": len(positive), "n_sentences": len(data),
            "spectrum": spectrum[:s.spectrum_size].tolist(), "spectrum_area": float(spectrum.mean())}


def analyze_encoder(encoder: SentenceEncoder, sentences: list[str], pairs: list[tuple[str, str, float]],
                    s: AnalyzeConfig, data_pairs: int | None = None) -> dict[str, Any]:
    """Every §6.1 metric per layer on ``sentences`` and the §7.1 sentence metrics for one model
    state (``data_pairs``: see ``sentence_metrics``)."""
    layers, ids = hidden_layers(encoder, sentences, s.batch_size)
    groups = token_groups(encoder.tokenizer, ids)
    rng = np.random.default_rng(s.seed)
    per_layer = [{"layer": i} | layer_metrics(layer, ids, groups, s, rng) for i, layer in enumerate(layers)]
    return {"layers": per_layer, "sentence": sentence_metrics(encoder, pairs, s, data_pairs),
            "groups": {k: len(v) for k, v in groups.items()}}


def provenance(sentences: list[str], s: AnalyzeConfig) -> dict[str, Any]:
    return {"sentences": {"source": SENTENCE_SOURCE, "n": len(sentences), "sha256": checksum(sentences)},
            "settings": asdict(s), "choices": g.CHOICES,
            "groups_defined_as": {"special": "tokenizer special ids", "function": "sklearn ENGLISH_STOP_WORDS",
                                  "content": "other tokens with a letter"}}


def analyze_job(job: AnalyzeJob, data_dir: Path, model: Path | None = None) -> dict[str, Any]:
    """The analysis stage's document for one row: ``model`` is a trained run's exported model
    (None: the job's untrained backbone)."""
    import time

    from sentemb.models.encoder import load_backbone, model_checksum, resolve_model_path
    from sentemb.utils.device import pick_device

    path = model if model is not None else resolve_model_path(job.model.model, job.model.revision)  # type: ignore[union-attr]
    backbone, tokenizer = load_backbone(path)
    encoder = SentenceEncoder(backbone, tokenizer, job.pooler, job.first_layer_index).to(pick_device())
    sentences, pairs = analysis_data(Path(data_dir))
    started = time.perf_counter()
    result = analyze_encoder(encoder, sentences, pairs, job.analyze)
    return {"row": job.run, "model": str(path), "pooler": job.pooler, "model_sha256": model_checksum(path),
            **provenance(sentences, job.analyze), **result, "wall_s": time.perf_counter() - started}
