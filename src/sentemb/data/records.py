"""In-memory form of every evaluation set, shared by the prepare stage and the evaluator.

One record type serves all tasks so that parsing, the normalised on-disk form and the
evaluator agree on a single shape:

* STS12-16: one split per subset (``MSRpar``, ``headlines``...), ``label`` the gold score.
* STSBenchmark, SICKRelatedness: splits ``train``/``dev``/``test``, ``label`` the gold score.
* MR, CR, SUBJ, MPQA: one split ``all`` (SentEval cross-validates over the whole corpus).
* SST2: ``train``/``dev``/``test``; TREC: ``train``/``test``; MRPC: ``train``/``test``
  with ``text_b`` set.

Texts are whitespace-normalised (``" ".join(text.split())``), which is what SentEval's
batcher feeds the tokenizer after SimCSE re-joins its token lists (docs/methods.md §0.1).
Examples keep file order; evaluators sort them as SentEval does.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    text_a: str
    label: float | int
    text_b: str | None = None


@dataclass(frozen=True)
class TaskData:
    name: str
    kind: str  # "sts" or "transfer"
    splits: dict[str, list[Example]] = field(default_factory=dict)

    def sentences(self) -> list[str]:
        """Every text of every split, in order (duplicates kept)."""
        out: list[str] = []
        for examples in self.splits.values():
            for ex in examples:
                out.append(ex.text_a)
                if ex.text_b is not None:
                    out.append(ex.text_b)
        return out
