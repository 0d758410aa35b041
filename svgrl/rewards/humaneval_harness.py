"""HumanEval judge that runs inside the sandbox (copied there as a script; stdlib only).

Why a separate checker process: if the tests ran in the candidate's interpreter, "the
program exited 0" would be the only evidence, and the candidate controls that — ``os._exit(0)``,
``raise SystemExit``, an ``atexit`` hook, a patched ``sys.excepthook``, an object whose
``__eq__`` always says yes, or printed fake output all look like a pass. So:

* the **checker** (this script, ``check`` mode) forks the candidate *before* it reads anything
  secret, turns itself non-dumpable (no ptrace, no ``process_vm_readv``, no ``pidfd_getfd``
  from the same uid), then reads a per-run nonce from its stdin;
* the **candidate** (``serve`` mode, a fresh interpreter) defines the function and answers
  calls over a pipe; arguments and results cross as tagged JSON, so the checker only ever
  compares plain values it decoded itself — no candidate object reaches ``check``;
* the checker runs the problem's prompt (signature, helpers) and ``check(proxy)``, and prints
  ``PASS <nonce>`` on its own stdout only after ``check`` returned. The candidate's stdout is
  redirected to stderr and it never sees the nonce, so no exit trick or print can forge it.

argv: ``harness.py check PROMPT TEST ENTRY SOLUTION`` (paths of files in /box).
"""

from __future__ import annotations

import json
import os
import sys

_PR_SET_DUMPABLE = 4


def encode(x: object) -> object:
    """Plain value → JSON-able tagged form (lists are tagged containers, never bare)."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if type(x) is int:
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return ["f", repr(float(x))]
    if isinstance(x, complex):
        return ["c", repr(x.real), repr(x.imag)]
    if isinstance(x, (bytes, bytearray)):
        return ["b", bytes(x).hex()]
    if isinstance(x, tuple):
        return ["t", [encode(v) for v in x]]
    if isinstance(x, list):
        return ["l", [encode(v) for v in x]]
    if isinstance(x, (set, frozenset)):
        return ["fs" if isinstance(x, frozenset) else "s", [encode(v) for v in x]]
    if isinstance(x, dict):
        return ["d", [[encode(k), encode(v)] for k, v in x.items()]]
    raise TypeError(f"cannot pass a {type(x).__name__} between checker and candidate")


def decode(x: object) -> object:
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if not isinstance(x, list) or not x or not isinstance(x[0], str):
        raise ValueError("malformed value")
    tag = x[0]
    if tag == "f":
        return float(x[1])
    if tag == "c":
        return complex(float(x[1]), float(x[2]))
    if tag == "b":
        return bytes.fromhex(x[1])
    if tag in ("t", "l", "s", "fs"):
        items = [decode(v) for v in x[1]]
        return {"t": tuple, "l": list, "s": set, "fs": frozenset}[tag](items)
    if tag == "d":
        return {decode(k): decode(v) for k, v in x[1]}
    raise ValueError(f"unknown tag {tag!r}")


def _send(fd: int, obj: object) -> None:
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


class _Lines:
    def __init__(self, fd: int):
        self.fd, self.buf = fd, b""

    def read(self) -> object:
        while b"\n" not in self.buf:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise EOFError("the candidate process ended")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def serve(solution_path: str, entry: str) -> None:
    """Candidate side: define the solution, then answer ``[args, kwargs]`` calls forever."""
    out = os.dup(1)
    os.dup2(2, 1)  # the candidate's prints must not corrupt the protocol
    lines = _Lines(0)
    ns: dict = {"__name__": "__candidate__"}
    with open(solution_path, encoding="utf-8") as f:
        src = f.read()
    try:
        exec(compile(src, "solution.py", "exec"), ns)  # noqa: S102 — sandboxed by design
        fn = ns[entry]
    except BaseException as e:  # noqa: BLE001 — reported to the checker as a failure
        _send(out, ["raise", f"{type(e).__name__}: {e}"[:500]])
        return
    _send(out, ["ready"])
    while True:
        try:
            args, kwargs = lines.read()
        except EOFError:
            return
        try:
            result = ["ok", encode(fn(*[decode(a) for a in args],
                                      **{k: decode(v) for k, v in kwargs.items()}))]
        except BaseException as e:  # noqa: BLE001
            result = ["raise", f"{type(e).__name__}: {e}"[:500]]
        _send(out, result)


class CandidateError(Exception):
    """The candidate raised, died or answered with something that is not a plain value."""


def check(prompt_path: str, test_path: str, entry: str, solution_path: str) -> None:
    req_r, req_w = os.pipe()
    resp_r, resp_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # candidate: only the two pipe ends, then a fresh interpreter
        try:
            os.dup2(req_r, 0)
            os.dup2(resp_w, 1)
            os.closerange(3, 1 << 16)
            os.execv(sys.executable, [sys.executable, "-I", "-S", __file__, "serve",
                                      solution_path, entry])
        finally:
            os._exit(127)
    os.close(req_r)
    os.close(resp_w)
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0)")
    nonce = sys.stdin.readline().strip()
    os.close(0)
    lines = _Lines(resp_r)
    first = lines.read()
    if first != ["ready"]:
        raise CandidateError(f"candidate did not start: {str(first)[:200]}")

    def candidate(*args: object, **kwargs: object) -> object:
        _send(req_w, [[encode(a) for a in args], {k: encode(v) for k, v in kwargs.items()}])
        reply = lines.read()
        if not isinstance(reply, list) or len(reply) != 2 or reply[0] != "ok":
            raise CandidateError(str(reply)[:200])
        return decode(reply[1])

    ns: dict = {"__name__": "__check__"}
    for path in (prompt_path, test_path):
        with open(path, encoding="utf-8") as f:
            exec(compile(f.read(), os.path.basename(path), "exec"), ns)  # noqa: S102
        ns[entry] = candidate  # tests may call the function by its name, too
    ns["check"](candidate)
    sys.stdout.write(f"PASS {nonce}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
        os._exit(0)  # the candidate's pipe may still be open; nothing left to wait for
