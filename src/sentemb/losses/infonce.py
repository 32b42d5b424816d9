"""In-batch InfoNCE exactly as SimCSE computes it (docs/methods.md §1.2, §1.3, §3.3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.checks import is_real
from sentemb.losses.stats import contrastive_stats, cosine_matrix


class InfoNCELoss(Loss):
    r"""One-directional in-batch InfoNCE over cosine similarities (the SimCSE loss).

    With s = cosine, τ = ``temperature``, b = ``hard_negative_weight``, anchors u_i, positives
    v_i, optional hard negatives w_k and optional extra negatives q ∈ Q (e.g. the ESimCSE queue),
    row i of the logits is

        [ s(u_i, v_j)/τ  for j = 1..B ] ++ [ s(u_i, w_k)/τ + b·1[k = i]  for k = 1..B ]
                                         ++ [ s(u_i, q)/τ  for q ∈ Q ]

    and the loss is the cross-entropy with target i, averaged over the B rows:

        ℓ_i = −log  e^{s(u_i,v_i)/τ} / ( Σ_j e^{s(u_i,v_j)/τ} + Σ_{k≠i} e^{s(u_i,w_k)/τ}
                                          + α·e^{s(u_i,w_i)/τ} + Σ_{q∈Q} e^{s(u_i,q)/τ} ),  α = e^b.

    Exact denominator: the positive, B−1 in-batch positives of other rows, all B hard negatives
    (only the anchor's own one weighted by α) and all K extra negatives. **One direction only**
    (u rows, candidates in columns; no v→u term) and **cross-view only** (no u_i–u_j terms), so
    without hard negatives or a queue there are B−1 negatives, not SimCLR's 2B−2.

    Args:
        temperature: τ > 0; SimCSE uses 0.05.
        hard_negative_weight: b, a *logit* added to the anchor's own hard negative only (the
            paper's α = e^b; b = 0 means α = 1). A non-zero b needs hard negatives, so the
            instance then ``requires`` them and ``forward`` raises without them.

    Inputs (``EmbeddingBatch``): anchor, positive (B, D) with B >= 2; optional hard_negative
    (B, D); optional extra_negatives (K, D), which the objective has already detached (K = 0 is
    the same as none). Embeddings need not be normalised; the loss is invariant to their scale.

    Stats: ``loss``, ``pos_cos``, ``neg_cos`` (in-batch off-diagonal), ``acc`` (top-1 over the
    full logit row), ``align``, ``uniform`` (stats.py), plus ``hard_neg_cos`` (mean s(u_i, w_i))
    with hard negatives and ``queue_cos`` (mean s(u_i, q)) with a non-empty queue.

    References:
        1. Gao, Yao, Chen. SimCSE: Simple Contrastive Learning of Sentence Embeddings. EMNLP 2021,
           Eq. 1 and Eq. 8 (hard negatives).
        2. princeton-nlp/SimCSE at commit 49fa580, simcse/models.py ``cl_forward``:
           https://github.com/princeton-nlp/SimCSE/blob/49fa580/simcse/models.py
        3. Wu et al. ESimCSE, 2021 (the queue as extra negatives; docs/methods.md §3.3).

    Relations:
        - ``hard_negative_weight=0`` with no hard negatives is unsupervised SimCSE; with hard
          negatives it is supervised SimCSE (α = 1).
        - Equals sentence-transformers ``MultipleNegativesRankingLoss`` with ``scale=1/τ`` (its
          default cosine similarity, anchors then positives then hard negatives as documents).
        - With extra negatives it is the ESimCSE loss.
    """

    requires: frozenset[str] = frozenset()
    # Optional EmbeddingBatch fields this loss uses when present (the contract test feeds them).
    accepts: frozenset[str] = frozenset({"hard_negative", "extra_negatives"})

    def __init__(self, temperature: float = 0.05, hard_negative_weight: float = 0.0) -> None:
        super().__init__()
        if not is_real(temperature) or not temperature > 0:
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        if not is_real(hard_negative_weight):
            raise ValueError(f"hard_negative_weight must be a finite number, got {hard_negative_weight!r}")
        self.temperature = float(temperature)
        self.hard_negative_weight = float(hard_negative_weight)
        if self.hard_negative_weight != 0.0:
            # A weight on a hard negative that never comes is a silent no-op; declaring the need
            # lets build_objective reject an unsupervised data format when the run starts.
            self.requires = frozenset({"hard_negative"})

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, hard_negative_weight={self.hard_negative_weight}"

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        self._check(batch)
        u, v, w, q = batch.anchor, batch.positive, batch.hard_negative, batch.extra_negatives
        n = u.shape[0]
        cos_uv = cosine_matrix(u, v)  # (B, B)
        blocks = [cos_uv / self.temperature]  # [(B, B)]
        if w is not None:
            cos_uw = cosine_matrix(u, w)  # (B, B)
            own = torch.eye(n, dtype=cos_uw.dtype, device=cos_uw.device)  # (B, B)
            blocks.append(cos_uw / self.temperature + self.hard_negative_weight * own)
        has_queue = q is not None and q.shape[0] > 0
        if has_queue:
            cos_uq = cosine_matrix(u, q)  # (B, K)
            blocks.append(cos_uq / self.temperature)
        logits = torch.cat(blocks, dim=1)  # (B, B [+ B] [+ K])
        target = torch.arange(n, device=logits.device)  # (B,)
        total = F.cross_entropy(logits, target)  # mean over rows

        stats = {"loss": total.detach(), **contrastive_stats(u, v, cos_uv, logits)}
        if w is not None:
            stats["hard_neg_cos"] = cos_uw.detach().diagonal().mean()
        if has_queue:
            stats["queue_cos"] = cos_uq.detach().mean()
        return LossOutput(total=total, stats=stats)

    def _check(self, batch: EmbeddingBatch) -> None:
        # EmbeddingBatch already checks shapes; what remains is what only this loss needs.
        if batch.anchor.shape[0] < 2:
            raise ValueError(f"InfoNCE needs a batch of at least 2 pairs (in-batch negatives), "
                             f"got {batch.anchor.shape[0]}")
        if batch.hard_negative is None and self.hard_negative_weight != 0.0:
            raise ValueError(f"hard_negative_weight={self.hard_negative_weight} needs hard negatives, "
                             "but the batch has none")
