"""Systems that misbehave on chosen targets, for the bench's fault-isolation tests. Lives in
its own module so the bench's spawned worker processes can import the factory."""

from __future__ import annotations

import os
import time

from svgrl.bench.factory import make_system

# target id (ending) → what the system does on it
FAULTS = {"hang": "hang", "crash": "crash", "raise": "raise", "bytes": "bytes"}


class Faulty:
    settings = {"what": "oracle, except on the targets named in FAULTS"}

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, inp):
        fault = next((f for k, f in FAULTS.items() if inp.id.endswith(k)), None)
        if fault == "hang":
            time.sleep(3600)
        if fault == "crash":
            os._exit(3)  # the process dies mid-sample, as a segfaulting tracer would
        if fault == "raise":
            raise RuntimeError("this system cannot draw that")
        if fault == "bytes":
            return b"<svg/>"
        return self.inner(inp)


def faulty_factory(spec, flags, threads):
    return Faulty(make_system(spec, flags, threads))


def slow_start_factory(spec, flags, threads):
    time.sleep(3600)  # a model load that never ends


class WhoAmI:
    """Draws a square and writes its worker's process id into the SVG."""

    settings: dict = {}

    def __call__(self, inp):
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><!--pid '
                f'{os.getpid()}--><rect width="5" height="5"/></svg>')


def pid_factory(spec, flags, threads):
    return WhoAmI()
