"""MPJudge's training objective (paper, Training Objective, Eqs. 5–7).

* Eq. 5, regression: ``L_reg = ‖Ŝ − S‖²``, averaged over the scored
  predictions of a batch (MSE).
* Eq. 6, DPO: ``L_DPO = −log σ(β·[f_θ(x, y⁺) − f_θ(x, y⁻) − f_ref(x, y⁺) + f_ref(x, y⁻)])``
  where ``x`` is the query (a painting or a clip), ``y⁺``/``y⁻`` the chosen
  and rejected candidates of the other modality, ``f`` the predicted score.
* Eq. 7: ``L = λ_reg·L_reg + λ_DPO·L_DPO``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Paper, Training Details.
LAMBDA_REG = 1.0
LAMBDA_DPO = 0.5

#: β of Eq. 6 (not given in the paper). Our scores lie in [0, 1], so the
#: policy-over-reference margin Δ lies in [−2, 2]. With β = 10 the loss is
#: log 2 ≈ 0.69 at Δ = 0 and 0.13 at Δ = 0.2, the width of the ambiguity band
#: [0.4, 0.6] that preference tasks come from: DPO asks the model to separate
#: chosen from rejected by about the band's width beyond what the reference
#: does, then lets go, instead of driving the two scores to 0 and 1 against
#: the regression term. (β = 1 gives 0.60 at Δ = 0.2, almost no signal on
#: this scale; β = 100 saturates by Δ = 0.03.)
DPO_BETA = 10.0


def regression_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 5 averaged over the batch: mean of (Ŝ − S)²."""
    return F.mse_loss(predicted.float(), target.float())


def dpo_margin(policy_chosen, policy_rejected, ref_chosen, ref_rejected) -> torch.Tensor:
    """The bracket of Eq. 6: how much more than the reference the model prefers the chosen item."""
    return (policy_chosen - policy_rejected) - (ref_chosen - ref_rejected)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = DPO_BETA,
) -> torch.Tensor:
    """Eq. 6 per preference item (a vector; the trainer takes its mean).
    ``−log σ(z)`` is computed as ``softplus(−z)``, which is exact and stable."""
    margin = dpo_margin(policy_chosen.float(), policy_rejected.float(), ref_chosen.float().detach(), ref_rejected.float().detach())
    return F.softplus(-beta * margin)


def total_loss(l_reg: torch.Tensor, l_dpo: torch.Tensor | None, lambda_reg: float = LAMBDA_REG, lambda_dpo: float = LAMBDA_DPO) -> torch.Tensor:
    """Eq. 7. ``l_dpo`` is None for a batch without preference items."""
    loss = lambda_reg * l_reg
    return loss if l_dpo is None else loss + lambda_dpo * l_dpo
