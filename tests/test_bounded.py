"""Bounded work per item: an item over its CPU, memory or wall bound, or one that kills its
worker, fails alone with a typed reason; the others come back in order."""

from __future__ import annotations

import os
import time

import pytest

from svgrl.bounded import BoundedPool, ItemFailure, ItemLimits, bounded_map
from svgrl.errors import ConfigError

LIMITS = ItemLimits(item_cpu_s=0.5, item_memory_mb=768, item_wall_s=1.5)


@pytest.fixture(scope="module")
def pool():
    with BoundedPool("math:factorial", LIMITS, workers=2) as p:
        yield p


def test_cpu_bound_item_fails_timeout_and_the_batch_goes_on(pool):
    t0 = time.monotonic()
    out = list(pool.map([5, 10**8, 6, 7, 3], chunk=5))
    assert out[0] == 120 and out[2:] == [720, 5040, 6]
    assert isinstance(out[1], ItemFailure) and out[1].reason == "timeout"
    assert time.monotonic() - t0 < 5
    assert list(pool.map([4])) == [24]  # the pool replaced its worker


def test_memory_bound_item_fails_memory():
    out = list(bounded_map("builtins:bytearray", [10, 4 << 30, 3], LIMITS, chunk=3))
    assert out[0] == bytearray(10) and out[2] == bytearray(3)
    assert out[1] == ItemFailure("memory", "over the 768 MB limit")


def test_blocking_item_fails_on_wall_time():
    t0 = time.monotonic()
    out = list(bounded_map("time:sleep", [0.01, 60, 0.01], LIMITS, chunk=3))
    assert out[0] is None and out[2] is None and out[1].reason == "timeout"
    assert time.monotonic() - t0 < 6


def test_item_that_kills_its_worker_fails_crash():
    out = list(bounded_map("faulthandler:_sigsegv", [False], LIMITS))
    assert out[0].reason == "crash" and "SIGSEGV" in out[0].message


def test_untyped_exception_fails_error():
    out = list(bounded_map("math:sqrt", [4.0, -1.0], LIMITS))
    assert out[0] == 2.0 and out[1].reason == "error" and "ValueError" in out[1].message


def test_limits_are_checked():
    with pytest.raises(ConfigError, match="item_memory_mb"):
        ItemLimits(item_memory_mb=10)


def test_a_worker_that_never_gets_ready_fails_after_worker_start_s():
    limits = ItemLimits(item_cpu_s=0.5, item_memory_mb=768, worker_start_s=1.0)
    t0 = time.monotonic()
    # signal.pause blocks the worker's init until a signal: it never reports ready
    with BoundedPool("math:factorial", limits, init="signal:pause") as p, \
            pytest.raises(OSError, match=r"did not start in 1 s \(ItemLimits.worker_start_s\)"):
        list(p.map([3]))
    assert time.monotonic() - t0 < 15
    assert ItemLimits().worker_start_s == 120.0  # the default bound is unchanged
    with pytest.raises(ConfigError, match="worker_start_s"):
        ItemLimits(worker_start_s=0)


def _workers_of_this_process() -> list[int]:
    from pathlib import Path

    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid == os.getpid() and b"_worker_main" in (p / "cmdline").read_bytes():
                    out.append(int(p.name))
            except (OSError, ValueError, IndexError):
                continue
    return out


def test_a_worker_that_hangs_in_start_is_ended_with_a_typed_error():
    from svgrl.errors import WorkerStartError

    before = set(_workers_of_this_process())
    pool = BoundedPool("math:factorial", ItemLimits(worker_start_s=1.0), init="signal:pause")
    t0 = time.monotonic()
    with pytest.raises(WorkerStartError, match="did not start in 1 s"):
        pool.start()
    assert time.monotonic() - t0 < 10
    assert set(_workers_of_this_process()) <= before  # the hung worker was ended
