"""Knowledge distillation from a full-precision teacher: the losses of the official BinaryViT
training and Bi-ViT's ranking-aware attention distillation.

- BinaryViT (github.com/Phuoc-Hoan-Le/BinaryViT, commit ca16a431): every paper script passes
  `--teacher-model` (a full-precision DeiT-S) with `--mixup=0.0 --cutmix=0.0`, so main.py picks
  `criterion = DistributionLoss()` without a second criterion and engine.py trains on
  `loss = criterion(student_logits, teacher_logits)` alone: the cross-entropy of the student's
  log-softmax against the teacher's softmax, averaged over the batch; the labels are not used
  (the 0.9 / 0.1 mix with the labels in engine.py applies only when mixup is on).
  -> :func:`distribution_loss` (``kd="soft"``).
- Bi-ViT (AAAI 2024, arXiv 2305.12354): its README trains with DeiT's `--distillation-type hard`
  (losses.py: (1 - alpha) CE(labels) + alpha CE(teacher argmax), alpha = 0.5 in main_1bit.py)
  and the paper adds a ranking-aware distillation of the attention. The released code has no
  ranking loss (only an unused manifold loss), so ours follows the paper's description: the
  binary student's attention should rank the keys as the full-precision teacher's does.
  -> :func:`hard_distillation_loss` + ``rank_weight`` x :func:`ranking_loss` (``kd="bivit"``).

Ranking loss (our formulation; the choices are ours and documented in model/README.md): for
every layer, image, head and query row, take the teacher's top-k keys (by attention logit) and
every pair (i, j) with i among them and the teacher ranking i strictly above j. The student's
value for a key is its binary score divided by the head dim, u = (sign q . sign k) / d, which
moves in steps of 2 / d; the pair costs max(0, 2/d - (u_i - u_j)): zero once the student ranks i
at least one step above j, 2/d for a tie, more for an inversion. The loss is the mean over all
such pairs, averaged over layers. It is computed on the binary scores, not on the probabilities,
so it does not depend on (and cannot drive) the learnable scaling factor or the clip.
"""

from __future__ import annotations

import contextlib
import contextvars

import torch
import torch.nn.functional as F

_CAPTURE: contextvars.ContextVar["list | None"] = contextvars.ContextVar("attention_capture",
                                                                           default=None)


def record_attention(name: str, values: torch.Tensor, margin: float) -> None:
    """Called by the DeiT attention: ranking values (B, H, N, N) of one layer."""
    captured = _CAPTURE.get()
    if captured is not None:
        captured.append((name, values, margin))


@contextlib.contextmanager
def capturing_attention():
    """Collect (name, values, margin) of every DeiT attention layer run inside the block."""
    captured: list = []
    token = _CAPTURE.set(captured)
    try:
        yield captured
    finally:
        _CAPTURE.reset(token)


def distribution_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -sum_c softmax(teacher)_c * log_softmax(student)_c."""
    target = F.softmax(teacher_logits.detach(), dim=-1)
    return -(target * F.log_softmax(student_logits, dim=-1)).sum(-1).mean()


def hard_distillation_loss(student_logits, teacher_logits, labels, alpha: float = 0.5):
    """DeiT's hard distillation on one head: (1 - alpha) CE(labels) + alpha CE(teacher argmax)."""
    return ((1 - alpha) * F.cross_entropy(student_logits, labels)
            + alpha * F.cross_entropy(student_logits, teacher_logits.detach().argmax(-1)))


def ranking_loss(student: torch.Tensor, teacher: torch.Tensor, margin: float,
                 topk: int) -> torch.Tensor:
    """Pairwise hinge on one layer's (B, H, N, N) ranking values (see the module docstring)."""
    if student.shape != teacher.shape:
        raise ValueError(f"student attention {tuple(student.shape)} and teacher attention "
                         f"{tuple(teacher.shape)} differ: the teacher needs the same heads and "
                         "tokens")
    teacher = teacher.detach()
    k = min(topk, teacher.shape[-1])
    idx = teacher.topk(k, dim=-1).indices                           # (B, H, N, k)
    t_top = teacher.gather(-1, idx).unsqueeze(-1)                   # (B, H, N, k, 1)
    s_top = student.gather(-1, idx).unsqueeze(-1)
    valid = (t_top > teacher.unsqueeze(-2)).to(student.dtype)       # (B, H, N, k, N)
    cost = F.relu(margin - (s_top - student.unsqueeze(-2))) * valid
    return cost.sum() / valid.sum().clamp_min(1)


def attention_ranking_loss(student_caps: list, teacher_caps: list, topk: int) -> torch.Tensor:
    """Mean of :func:`ranking_loss` over layers, student layer l against teacher layer l."""
    if len(student_caps) != len(teacher_caps) or not student_caps:
        raise ValueError(f"ranking distillation pairs layer l of the student with layer l of the "
                         f"teacher: the student has {len(student_caps)} attention layers, the "
                         f"teacher {len(teacher_caps)}; use a teacher of the same depth")
    losses = [ranking_loss(s, t, margin, topk)
              for (_, s, margin), (_, t, _) in zip(student_caps, teacher_caps)]
    return torch.stack(losses).mean()
