"""A scale simulator of synchronous vs asynchronous GRPO: samples/s and generator idle time
for N generators and M trainers on C cores, from three measured costs.

    Costs: per_token  generation, CPU-seconds per completion token (one generator process)
           per_sample verification, CPU-seconds per completion
           per_update CPU-seconds of one update (one trainer process)

A step consumes S completions of L tokens on average: generation work G = per_token·S·L,
verification V = per_sample·S, update U = per_update.

Synchronous (one process, the stages in turn): T = G + V + U; the generator idles for
V + U of it.

Asynchronous, steady state (generators run ahead of the trainer by up to a queue of
batches). Every runnable process on the machine shares the cores equally (processor
sharing): with k of the job's processes busy and B other runnable processes (the
machine's background load; 0 on a dedicated machine) each runs at share(k) = min(1,
C / (k + B)) of a core. The costs were measured with one busy process under a background
B₀, so a process runs at r(k) = share(k) / share₀(1) of its calibrated speed (the
synchronous step too: T scales by share₀(1) / share(1)). The generators work at most one
batch ahead (the controller keeps two steps of prompts in flight, counting the batch in the
update), so a step is the update overlapped with the next batch's generation:

    with both busy, each runs at r_A = r(N + M): the update alone would last
    a = (U/M) / r_A, the batch g = (G + V) / (N·r_A).
    g ≥ a  the update ends first; the generators finish the batch alone at r_B = r(N):
           T = a + (G + V − N·r_A·a) / (N·r_B), and they never wait;
    g < a  the batch is ready first; the generators wait, and the trainers finish the
           update alone at r_M = r(M): T = g + (U/M − r_A·g) / r_M; each generator idles
           for T − g of it.

The model leaves out the controller (it sleeps between polls) and
the decode batch size (each generator decodes fewer rows when N grows: a per-token cost
that grows with N shows up as a prediction error).

Processor sharing assumes k busy processes on C ≥ k cores each run at full speed. A real
machine does not (shared caches and memory bandwidth, hypervisor siblings): give `speed`, the
measured speed of one process when k run at once (`svgrl.rl.async_.speed.measure_speed`),
and `calibration_speed`, one process's speed when the costs were measured; then r(k) =
speed[k − 1] / calibration_speed and the background and core counts are not used (the
measurement includes them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Costs:
    per_token: float
    per_sample: float
    per_update: float


def simulate(costs: Costs, *, samples: int, tokens: float, generators: int = 1,
             trainers: int = 1, cores: float = 2.0, background: float = 0.0,
             calibration_background: float | None = None,
             speed: Sequence[float] | None = None,
             calibration_speed: float | None = None) -> dict[str, float]:
    """Predicted samples/s and generator idle share (of the generators' wall time), sync
    and async, for steps of `samples` completions of `tokens` tokens each, with
    `background` other runnable processes; `calibration_background`: the background while
    the costs were measured (default: the same). `speed` / `calibration_speed`: a measured
    speed curve instead of processor sharing (see the module docstring)."""
    if generators < 1 or trainers < 1 or cores <= 0 or background < 0 or \
            (calibration_background or 0) < 0:
        raise ValueError(f"generators {generators}, trainers {trainers}, cores {cores}, "
                         f"background {background}: each must be positive (background ≥ 0)")
    gen = costs.per_token * samples * tokens
    ver = costs.per_sample * samples
    upd = costs.per_update
    sync_t = gen + ver + upd
    n, m = generators, trainers

    if speed is not None:
        if len(speed) < n + m or min(speed) <= 0:
            raise ValueError(f"speed: {len(speed)} positive values needed for {n + m} busy "
                             f"processes, got {list(speed)}")

        def share(k: int) -> float:
            return speed[k - 1]

        cal = speed[0] if calibration_speed is None else calibration_speed
    else:
        def share(k: int, bg: float = background) -> float:
            return min(1.0, cores / (k + bg))

        cal = share(1, background if calibration_background is None
                    else calibration_background)
    r_a, r_b, r_m = share(n + m) / cal, share(n) / cal, share(m) / cal
    sync_t *= cal / share(1)
    a = (upd / m) / r_a
    g = (gen + ver) / (n * r_a)
    if g >= a:
        async_t, idle = a + (gen + ver - n * r_a * a) / (n * r_b), 0.0
    else:  # the trainers alone, faster, for the rest of the update
        async_t = g + (upd / m - r_a * g) / r_m
        idle = 1 - g / async_t
    return {"sync_samples_per_s": samples / sync_t,
            "sync_generator_idle": (ver + upd) / (gen + ver + upd),
            "async_samples_per_s": samples / async_t, "async_generator_idle": idle}


__all__ = ["Costs", "simulate"]
