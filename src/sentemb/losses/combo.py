"""The combo loss μ·BSC + (1 − μ)·MSE of docs/methods.md §4.2."""

from __future__ import annotations

from typing import Any

from sentemb.losses.base import EmbeddingBatch, Loss, LossOutput
from sentemb.losses.bsc import BatchSoftmaxContrastiveLoss
from sentemb.losses.checks import check_real
from sentemb.losses.cosine_mse import CosineMSELoss


class ComboLoss(Loss):
    r"""L = μ·L_BSC + (1 − μ)·L_MSE (docs/methods.md §4.2, "Combo").

    L_BSC sees the labels binarised, L_MSE the graded labels in [0, 1]. The official
    ``ComboBSCLoss`` (aschern/BSC-loss) binarises ``labels >= 0.5`` whatever threshold it is
    given (its ``bin_thr`` argument is ignored), so that is the default here (``binarize_op: >=``,
    ``binarize_threshold: 0.5``), where plain ``bsc`` defaults to ``> 0.5`` and the STS-B recipe
    passes 0.6; pass either argument to choose otherwise. The paper picks μ from {0.1, 0.5, 0.9}:
    0.1 for CQA-A, MRPC, QQP and STS-B, 0.9 for the rest.

    Args:
        mu: μ in [0, 1].
        **bsc_args: arguments of ``bsc`` (temperature, symmetric, norm, tau_trainable, ...).

    Inputs: anchor = Q, positive = A (m, d), labels (m,) (required by the MSE half).

    Stats: the BSC stats (``pos_cos``, ``neg_cos``, ``neg_cos_max``, ``acc``,
    ``labelled_negatives``, ``tau``), ``loss``, ``bsc/loss`` and ``mse/loss`` (unweighted terms).

    References:
        1. Chernyavskiy et al., NAACL 2022, §3.3 (combination with MSE) and Tables 1-5.

    Relations:
        - ``mu = 1`` is ``bsc`` and ``mu = 0`` is ``cosine_mse``.
    """

    family = "pair"
    requires: frozenset[str] = frozenset({"labels"})
    accepts: frozenset[str] = frozenset({"labels"})

    def __init__(self, mu: float = 0.1, **bsc_args: Any) -> None:
        super().__init__()
        self.mu = check_real("mu", mu)
        if not 0.0 <= self.mu <= 1.0:
            raise ValueError(f"mu must lie in [0, 1], got {mu!r}")
        official = {"binarize_threshold": 0.5, "binarize_op": ">="}  # ComboBSCLoss, see above
        self.bsc = BatchSoftmaxContrastiveLoss(**(official | bsc_args))
        self.mse = CosineMSELoss()

    def extra_repr(self) -> str:
        return f"mu={self.mu}"

    def param_groups(self) -> list[dict[str, Any]]:
        return self.bsc.param_groups()

    def forward(self, *, batch: EmbeddingBatch) -> LossOutput:
        bsc, mse = self.bsc(batch=batch), self.mse(batch=batch)
        total = self.mu * bsc.total + (1.0 - self.mu) * mse.total
        stats = {**bsc.stats, "loss": total.detach(), "bsc/loss": bsc.stats["loss"], "mse/loss": mse.stats["loss"]}
        return LossOutput(total=total, stats=stats)
