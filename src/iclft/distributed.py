"""Many processes, one run: who this process is, and what the main process tells the others.

`iclft run CONFIG --processes N` (or `accelerate launch --multi_gpu --num_processes N -m iclft
run CONFIG`, or `torchrun --nproc_per_node N -m iclft run CONFIG`) starts N copies of one
command. The launcher sets RANK, LOCAL_RANK and WORLD_SIZE. The main process (rank 0) does
everything one process would do: it takes the runs folder's locks, reads and writes every
file, augments and scores. The other processes only help fine-tune: when the main process
reaches a fine-tuning step it sends them the training examples and settings (`send_work`),
every process trains its share of each batch (`iclft.exposure.finetune`, under `accelerate`),
and the main process alone saves the checkpoint. When the main process is done it sends
`None`, and the others exit.

The process group is `accelerate`'s (gloo on CPU, NCCL on CUDA); the messages go over a
separate gloo group, so a helper process can wait on the CPU, as long as the main process
augments or scores, without a GPU collective timing out.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import torch

WAIT = timedelta(days=1)  # how long a helper process waits for the main process's next message
_state: dict[str, Any] = {}


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def is_distributed() -> bool:
    return world_size() > 1


def accelerator(device: torch.device | None = None):
    """This process's one `accelerate.Accelerator` (its state is process-wide in accelerate).

    iclft places models itself (`device_placement=False`) and applies mixed precision itself
    (`torch.autocast`), so one Accelerator serves every fine-tuning run of the process."""
    if "accelerator" not in _state:
        from accelerate import Accelerator
        from accelerate.utils import InitProcessGroupKwargs

        cpu = device is not None and device.type != "cuda"
        _state["accelerator"] = Accelerator(
            cpu=cpu, device_placement=False, kwargs_handlers=[InitProcessGroupKwargs(timeout=WAIT)]
        )
    return _state["accelerator"]


def _messages():
    """The gloo group that carries the main process's messages (made on first use)."""
    if "messages" not in _state:
        import torch.distributed as dist

        _state["messages"] = dist.new_group(backend="gloo", timeout=WAIT)
    return _state["messages"]


def shut_down() -> None:
    """Close this process's groups just before it exits (`iclft run`): groups left to the
    interpreter's exit can abort it (gloo's threads destroyed while still joinable)."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
    _state.clear()


def send_work(work: Any) -> None:
    """Main process: hand `work` (any picklable value; None means "done") to the others."""
    if is_distributed():
        _broadcast(work)


def receive_work() -> Any:
    """Helper process: wait for the main process's next `send_work` value."""
    return _broadcast(None)


def _broadcast(value: Any) -> Any:
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0, group=_messages())
    return box[0]


def sum_across(value: float, device: torch.device) -> float:
    """The sum of `value` over all processes (the value itself in one process)."""
    if not is_distributed():
        return value
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item())
