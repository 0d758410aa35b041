"""Data-parallel training with torch's own DistributedDataParallel, launched by torchrun.

    torchrun --nproc-per-node 2 -m svgrl.cli train sft ...           # one machine
    torchrun --nnodes 2 --node-rank R --master-addr HOST --nproc-per-node 8 -m svgrl.cli ...
    svgrl train sft --nproc 2 ...     # the same as the first line: torchrun's elastic agent
                                      # (`torch.distributed.run`) started in this process

torchrun sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and the rendezvous address in each
worker's environment; `Dist.from_env` reads them and joins the process group (gloo on CPU,
NCCL on GPU). Without them the run is one process and nothing here does any communication.

The split of a step across ranks keeps the mathematics of one process (see
`svgrl.train.sft`): every rank builds the same global batch order, a step takes
``grad_accum × world`` batches of it, and rank r gets those at positions j ≡ r (mod world) —
so a 2-process run with ``--grad-accum 1`` sums the same micro-batches as a 1-process run
with ``--grad-accum 2``. The loss is a sum over target tokens divided by the step's global
token count (one all-reduce), multiplied by `world` because DDP averages gradients over ranks.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from svgrl.errors import ConfigError, SvgrlError

T = TypeVar("T")


@dataclass
class Dist:
    """This process's place in the job: rank, world size, local rank, device."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    started: bool = False  # this object joined the process group (and leaves it in `close`)

    @property
    def main(self) -> bool:
        """Rank 0: the only rank that writes checkpoints, metrics and logs."""
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Dist:
        """One process, or the rank torchrun started (gloo on CPU, NCCL on GPU)."""
        cuda = torch.cuda.is_available()
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls(device=torch.device("cuda" if cuda else "cpu"))
        import torch.distributed as dist

        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if cuda:
            torch.cuda.set_device(local)
        device = torch.device("cuda", local) if cuda else torch.device("cpu")
        started = not dist.is_initialized()
        if started:
            dist.init_process_group(backend="nccl" if cuda else "gloo")
        return cls(rank, world, local, device, started)

    def sum(self, values: list[float]) -> list[float]:
        """Each value summed over the ranks (float64, one all-reduce)."""
        if self.world == 1:
            return list(values)
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def gather(self, obj: Any) -> list[Any]:
        """`obj` of every rank, in rank order (on every rank)."""
        if self.world == 1:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def on_main(self, fn: Callable[[], T]) -> T | None:
        """Run `fn` on rank 0 only; an svgrl error it raises is raised on every rank (so a
        refused run folder stops the whole job with the same message, not a hang)."""
        exc: SvgrlError | None = None
        out = None
        if self.main:
            try:
                out = fn()
            except SvgrlError as e:
                exc = e
        msg = self.gather(str(exc) if exc is not None else None)[0]
        if exc is not None:
            raise exc
        if msg is not None:
            raise ConfigError(f"rank 0: {msg}")
        return out

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.started:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()
            self.started = False

    def seed(self, seed: int) -> int:
        """A per-rank seed derived from the run's seed (rank 0 of one process: `seed`)."""
        if self.world == 1:
            return seed
        return int.from_bytes(hashlib.sha256(f"{seed}/{self.rank}".encode()).digest()[:4],
                              "little")


def shard(items: list[T], rank: int, world: int) -> list[T]:
    """Rank `rank`'s slice of one step's global micro-batches: positions j ≡ rank (mod
    world), so the ranks together hold the global batch once, in its order."""
    return items[rank::world]


class LossModule(torch.nn.Module):
    """The model's modules under one `nn.Module` whose forward is the training loss, so DDP
    sees every parameter (backbone and vision prefix) and hooks its gradient all-reduce into
    the backward of the loss svgrl computes (`svgrl.train.sft.batch_loss`)."""

    def __init__(self, lm: Any, loss: Callable[..., torch.Tensor]):
        super().__init__()
        self.lm = lm
        self.parts = torch.nn.ModuleList(lm.modules())
        self.loss = loss

    def forward(self, batch: Any) -> torch.Tensor:
        return self.loss(self.lm, batch)


def wrap(lm: Any, loss: Callable[..., torch.Tensor], d: Dist) -> torch.nn.Module:
    """`LossModule` of `lm`, in DDP when there is more than one rank. Parameters a batch
    does not reach (the vision prefix or tower on a text-only micro-batch) are allowed:
    ``find_unused_parameters`` when the model reads images. Buffers are constants here
    (rotary frequencies), so they are not re-broadcast every forward."""
    m = LossModule(lm, loss)
    if d.world == 1:
        return m
    import inspect

    from torch.nn.parallel import DistributedDataParallel as DDP

    # torch ≥ 2.13 names the per-forward buffer sync `forward_sync_buffers`
    sync = ("forward_sync_buffers" if "forward_sync_buffers" in
            inspect.signature(DDP.__init__).parameters else "broadcast_buffers")
    return DDP(m, device_ids=[d.local_rank] if d.device.type == "cuda" else None,
               find_unused_parameters=lm.vision is not None or lm.image_processor is not None,
               **{sync: False})


def accumulate(model: torch.nn.Module, n: int) -> Iterator[contextlib.AbstractContextManager]:
    """Contexts for `n` micro-batch backwards: DDP's ``no_sync`` for all but the last, so
    gradients are all-reduced once per step."""
    sync = getattr(model, "no_sync", None)
    for i in range(n):
        yield sync() if sync is not None and i < n - 1 else contextlib.nullcontext()


def under_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def launch(nproc: int, argv: list[str]) -> int:
    """``torchrun --standalone --nproc-per-node NPROC -m svgrl.cli ARGV...`` in this process
    (torchrun's own parser and `torch.distributed.run.run`); the exit code. ARGV goes to
    the workers as it is: torchrun's parser sees only the launcher's options (it would
    otherwise take ``--nproc`` for an abbreviation of its ``--nproc-per-node``)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    args = get_args_parser().parse_args(
        ["--standalone", "--nnodes", "1", "--nproc-per-node", str(nproc), "-m", "svgrl.cli"])
    args.training_script_args = list(argv)
    try:
        run(args)
    except ChildFailedError as e:
        # the workers printed their own errors; exit as the first failed one did (2: an
        # svgrl error, as in one process)
        rank, failure = e.get_first_failure()
        code = failure.exitcode if isinstance(failure.exitcode, int) else 0
        print(f"svgrl: training process (rank {rank}) exited with {code}",
              file=sys.stderr)
        return code if code > 0 else 1
    return 0


__all__ = ["Dist", "LossModule", "accumulate", "launch", "shard", "under_torchrun", "wrap"]
