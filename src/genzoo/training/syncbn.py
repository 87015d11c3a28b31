"""BatchNorm with statistics over the global batch of a data-parallel job, on any device.

``torch.nn.SyncBatchNorm`` (torch 2.13) refuses CPU tensors ("SyncBatchNorm expected input
tensor to be on GPU"), so on CPU (gloo) genzoo uses ``DistributedBatchNorm``: the per-channel
sums are all-reduced with a differentiable all-reduce. Together with DDP's gradient averaging
this gives the gradients of one process seeing the whole batch (Ioffe & Szegedy 2015 over
the union of the ranks' shares). On CUDA, ``convert_batchnorm`` uses ``nn.SyncBatchNorm``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["DistributedBatchNorm", "convert_batchnorm", "global_mean_var"]


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the gradient of every input is the sum of the ranks' output gradients."""

    @staticmethod
    def forward(ctx: Any, t: Tensor) -> Tensor:  # noqa: ANN401
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:  # noqa: ANN401
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def _synced() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def global_mean_var(x: Tensor, dims: list[int]) -> tuple[Tensor, Tensor, Tensor]:
    """``(mean, biased var, count)`` of ``x`` over ``dims`` and over every rank's ``x``.

    Differentiable; the plain statistics of ``x`` without a process group. Use it for any
    data-dependent statistic (BatchNorm, ActNorm's initialisation) so that N ranks with batch
    B/N compute what one process with batch B computes. Two passes (mean, then centred
    squares), each one small all-reduce; computed in float32 for half-precision input.
    """
    xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    reduced = {d % x.dim() for d in dims}
    broadcast = [1 if d in reduced else x.shape[d] for d in range(x.dim())]
    total = xf.sum(dims)
    n_local = math.prod(x.shape[d] for d in reduced)
    head = torch.cat([total.flatten(), xf.new_full((1,), float(n_local))])
    if _synced():
        head = _AllReduceSum.apply(head)
    n = head[-1]
    mean = (head[:-1] / n).view(total.shape)
    sq = (xf - mean.view(broadcast)).pow(2).sum(dims)
    if _synced():
        sq = _AllReduceSum.apply(sq)
    return mean, sq / n, n


class DistributedBatchNorm(_BatchNorm):
    """BatchNorm (any of 1d/2d/3d) whose training statistics span every rank's batch share.

    Outside training, or without a process group of more than one rank, it is plain BatchNorm.
    Input ``(B, C, *)``; statistics are computed in float32 (or float64) even under autocast.
    """

    def _check_input_dim(self, input: Tensor) -> None:  # noqa: A002 - torch's signature
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input (B, C, ...), got {input.dim()}-D")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        if not (self.training and _synced()):
            return super().forward(x)
        c = x.shape[1]
        shape = (1, c, *([1] * (x.dim() - 2)))
        mean, var, n = global_mean_var(x, [0, *range(2, x.dim())])  # var biased, as in BN
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                if self.momentum is None:
                    m = 1.0 / float(self.num_batches_tracked)
                else:
                    m = self.momentum
                unbiased = var * (n / (n - 1).clamp(min=1))
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), m)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        y = (xf - mean.view(shape)) * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm layer of ``module`` by a synchronised one sharing its
    parameters and buffers (``nn.SyncBatchNorm`` on CUDA, ``DistributedBatchNorm`` elsewhere).
    Returns the module (a new one only when ``module`` itself is a BatchNorm layer)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert(module)


def _convert(module: nn.Module) -> nn.Module:
    out = module
    if isinstance(module, _BatchNorm) and not isinstance(
        module, DistributedBatchNorm | nn.SyncBatchNorm
    ):
        out = DistributedBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
        )
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        if module.track_running_stats:
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, _convert(child))
    return out
