"""The devices a training runs on: a GPU when there is one, and several under a distributed launcher.

With CUDA the model trains on the GPU in mixed precision: bf16 where the GPU has it (Ampere and later;
fp16's narrow range needs loss scaling), else fp16; on a CPU in bf16 mixed precision where the CPU computes
bf16 natively (store.models.cpu_bf16), else in full precision. `torchrun` or
`accelerate launch` starts one process (a rank) per device, each running the same command (DDP): every
rank trains on its share of each batch and the gradients are averaged, so the batch size, the schedule
and the model are what one device would have. Rank 0 alone writes the workspace and reports
(training.register); the others train beside it.

torch is imported inside functions: the pages import training for its config alone.
"""

from __future__ import annotations

import os

from ..store.models import cpu_bf16


def world_size() -> int:
    """Processes training together: the launcher's WORLD_SIZE, 1 without a launcher."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's place among them (0 without a launcher)."""
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """Whether this process is the one that writes the workspace and reports: rank 0."""
    return rank() == 0


def model_device() -> str | None:
    """Where to load the model: this rank's own GPU under a launcher (LOCAL_RANK), else None (the
    library's choice: CUDA when there is one)."""
    import torch

    if world_size() > 1 and torch.cuda.is_available():
        return f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    return None


def device_arguments() -> dict[str, bool]:
    """The trainer's arguments for this machine's devices. On a GPU, mixed precision: bf16 where the GPU
    has it, else fp16, and pinned memory for the copies to it. On CPUs, bf16 mixed precision where they
    compute it natively (cpu_bf16; elsewhere it is emulated, slower than full precision), and `use_cpu`
    with it (the trainer's bf16 needs it on a CPU) or under a launcher, without which the trainer leaves
    the ranks apart (each training alone) rather than joining them over gloo."""
    import torch

    if torch.cuda.is_available():
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return {precision: True, "dataloader_pin_memory": True}
    if cpu_bf16():
        return {"bf16": True, "use_cpu": True, "dataloader_pin_memory": False}
    return {"dataloader_pin_memory": False, **({"use_cpu": True} if world_size() > 1 else {})}


def any_rank(flag: bool) -> bool:
    """Whether `flag` is true on any rank (itself without a launcher): every rank must stop training at
    the same step, or the others wait for it forever."""
    import torch
    import torch.distributed as dist

    if world_size() == 1 or not dist.is_initialized():
        return flag
    vote = torch.tensor([int(flag)], device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(vote, op=dist.ReduceOp.MAX)
    return bool(vote.item())
