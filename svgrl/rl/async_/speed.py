"""How fast one process runs on this machine when k of them run at once: the speed curve the
scale simulator (`svgrl.rl.async_.simulate`) takes instead of assuming perfect processor
sharing.

Why measured and not min(1, cores / k): two processes on two vCPUs do not each run at full
speed (shared caches and memory bandwidth, a hypervisor's siblings, the machine's other
jobs). On the 2-vCPU machine this was written on, the same update ran ~20 % slower in the
trainer actor while a generator decoded beside it — the largest part of the simulator's
error when it assumed sharing alone.

The probe: `k` worker processes (each one torch thread, the roles' setting) run the same
small torch step — a projection onto a vocabulary, log-softmax and its backward, the op
mix of a policy update and of a decode step's output layer — for a fixed wall time, started
together; the speed is steps per second per process, averaged over the k.
"""

from __future__ import annotations

import subprocess
import sys
import time

from svgrl.errors import ConfigError

# The worker: imports torch, warms up, then answers each "go SECONDS" line on stdin with the
# number of steps it ran in that wall time.
_WORKER = r"""
import sys, time, torch
torch.set_num_threads(1)
x = torch.randn(256, 128)
w = torch.randn(128, 4096, requires_grad=True)
t = torch.randint(0, 4096, (256,))
def step():
    torch.nn.functional.cross_entropy(x @ w, t).backward()
for _ in range(5):
    step()
print("ready", flush=True)
for line in sys.stdin:
    seconds = float(line.split()[1])
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        step()
        n += 1
    print(n / seconds, flush=True)
"""


def measure_speed(max_processes: int, seconds: float = 1.0, repeats: int = 1
                  ) -> list[float]:
    """Steps/s of one process when k = 1 … `max_processes` run the probe at once (index
    k − 1; per process, averaged over the k and over `repeats` rounds)."""
    if not 1 <= max_processes <= 64 or not 0 < seconds <= 60 or not 1 <= repeats <= 10:
        raise ConfigError(f"speed probe: max_processes {max_processes} (1–64), seconds "
                          f"{seconds} (0–60], repeats {repeats} (1–10)")
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
             for _ in range(max_processes)]
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise ConfigError("speed probe: a worker process did not start (torch?)")
        speeds = []
        for k in range(1, max_processes + 1):
            total = 0.0
            for _ in range(repeats):
                for p in procs[:k]:
                    p.stdin.write(f"go {seconds}\n")
                    p.stdin.flush()
                total += sum(float(p.stdout.readline()) for p in procs[:k]) / k
            speeds.append(total / repeats)
        return speeds
    finally:
        for p in procs:
            p.stdin.close()
        deadline = time.monotonic() + 10
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()


__all__ = ["measure_speed"]
