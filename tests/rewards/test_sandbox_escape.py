"""Escape suite: each hostile program is contained, scores 0, stays within its limit
and leaves no process behind.

"Contained" here means, concretely: the program runs chrooted into a private tmpfs without
/etc, /root, /home or the project, as a uid of its own, in private mount/network namespaces
(see `svgrl.rewards.sandbox`). Each attack prints a token only a *successful* attack could
print; the test expects exactly that token, so containment shows up as reward 0.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from svgrl.rewards import sandbox
from svgrl.rewards.code import CodeConfig, code_correctness

pytestmark = pytest.mark.skipif(
    sandbox.isolation() != "full", reason="needs root + namespaces for the full sandbox"
)

WALL = 4.0
SLACK = 2.0  # process start, kill sweep and a loaded 2-core machine


def sandbox_pids() -> list[int]:
    """Every live process owned by a sandbox uid (≥ 1_000_000)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                uid = int((entry / "status").read_text().split("\nUid:")[1].split()[0])
            except (OSError, IndexError):
                continue
            if uid >= 1_000_000:
                pids.append(int(entry.name))
    return pids


def attack(code_verifier, program: str, escaped_output: str):
    """Run `program` both as a graded completion and raw (for status and timing)."""
    out = code_correctness(
        ["attack"], [f"```python\n{program}\n```"],
        {"tests": [[{"input": "", "output": escaped_output}]]}, code_verifier,
    )
    pool = code_verifier._get_pool()  # run the raw check in a worker too (preexec safety)
    t0 = time.monotonic()
    res, _ = pool.submit(
        sandbox.run, sandbox.python_argv("/box/main.py"), {"main.py": program}, b"",
        code_verifier.config.test_limits(),
    ).result()
    elapsed = time.monotonic() - t0
    return out, res, elapsed


def assert_contained(out, res, elapsed):
    assert list(out) == [0.0]
    assert elapsed < WALL + SLACK
    assert sandbox_pids() == []


def test_read_etc_passwd(code_verifier):
    host = Path("/etc/passwd").read_text()
    out, res, el = attack(code_verifier, "print(open('/etc/passwd').read())", host)
    assert_contained(out, res, el)
    assert res.status == "error" and b"No such file or directory: '/etc/passwd'" in res.stderr


def test_read_files_outside_the_temp_dir(code_verifier, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t-token")
    secret.chmod(0o644)
    os.chmod(tmp_path, 0o755)
    project = Path(__file__).resolve().parents[2] / "pyproject.toml"
    program = (
        "import os\nfound = []\n"
        f"for p in [{str(secret)!r}, {str(project)!r}, '/root/.bashrc', '/proc/1/environ']:\n"
        "    try:\n        found.append(open(p).read())\n    except OSError as e:\n"
        "        print(type(e).__name__)\n"
        "print(''.join(found))\nprint(sorted(os.listdir('/')))"
    )
    out, res, el = attack(code_verifier, program, "s3cr3t-token")
    assert_contained(out, res, el)
    assert res.status == "ok"
    assert b"s3cr3t" not in res.stdout and b"build-system" not in res.stdout
    assert res.stdout.count(b"FileNotFoundError") == 4
    # The whole visible tree: system dirs (read-only), /box, /work, /tmp, and the top of the
    # interpreter's prefix (only that prefix is mounted under it — /root/.bashrc is absent).
    listing = eval(res.stdout.decode().strip().splitlines()[-1])
    prefix_top = Path(sandbox._PYTHON_PREFIX).parts[1]
    assert set(listing) <= {"bin", "box", "dev", "lib", "lib64", "sbin", "tmp", "usr", "work",
                            prefix_top}
    assert "etc" not in listing and "home" not in listing and "proc" not in listing


def test_open_a_socket(code_verifier):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    program = (
        "import socket\n"
        f"for addr in [('127.0.0.1', {port}), ('1.1.1.1', 53), ('8.8.8.8', 443)]:\n"
        "    try:\n        socket.create_connection(addr, timeout=2).sendall(b'x')\n"
        "        print('connected')\n"
        "    except OSError as e:\n        print('blocked', e.errno)\n"
    )
    out, res, el = attack(code_verifier, program, "connected")
    assert_contained(out, res, el)
    assert b"connected" not in res.stdout and res.stdout.count(b"blocked") == 3
    with pytest.raises(TimeoutError):
        listener.accept()  # nothing ever reached the host's loopback
    listener.close()


def test_fork_bomb(code_verifier):
    program = (
        "import os\nwhile True:\n"
        "    try:\n        os.fork()\n    except OSError:\n        pass"
    )
    out, res, el = attack(code_verifier, program, "never")
    assert_contained(out, res, el)
    assert res.status == "timeout"


def test_allocate_2gb(code_verifier):
    program = "x = bytearray(2 * 1024 ** 3)\nprint('allocated')"
    out, res, el = attack(code_verifier, program, "allocated")
    assert_contained(out, res, el)
    assert res.status == "error" and b"MemoryError" in res.stderr and el < WALL


def test_infinite_loop(code_verifier):
    out, res, el = attack(code_verifier, "while True:\n    pass", "never")
    assert_contained(out, res, el)
    assert res.status == "timeout" and WALL <= res.wall_s < WALL + SLACK


def test_daemon_that_outlives_the_test(code_verifier):
    program = (
        "import os, time\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        time.sleep(1.0)\n        print('alive', flush=True)\n        time.sleep(60)\n"
        "    os._exit(0)\n"
        "print('started', flush=True)"
    )
    out, res, el = attack(code_verifier, program, "started alive")
    assert_contained(out, res, el)
    assert res.status == "ok" and res.stdout == b"started\n"
    assert res.leftover_killed >= 1  # the daemon existed, was found by uid and killed
    time.sleep(1.5)
    assert sandbox_pids() == []


@pytest.mark.parametrize(
    "program",
    [
        "with open('big', 'wb') as f:\n    for _ in range(1024):\n"
        "        f.write(b'\\0' * (1 << 20))\nprint('wrote')",
        "for i in range(100):\n    with open(f'/tmp/part{i}', 'wb') as f:\n"
        "        f.write(b'\\0' * (10 << 20))\nprint('wrote')",
    ],
    ids=["one-file", "many-files"],
)
def test_write_1gb_to_disk(code_verifier, program):
    free_before = os.statvfs("/tmp").f_bavail * os.statvfs("/tmp").f_frsize
    out, res, el = attack(code_verifier, program, "wrote")
    assert_contained(out, res, el)
    assert res.status in ("signal", "error")  # SIGXFSZ at 16 MB / ENOSPC at 64 MB
    free_after = os.statvfs("/tmp").f_bavail * os.statvfs("/tmp").f_frsize
    assert free_before - free_after < 200 << 20


KILL_CHECK = (
    "import os, signal, time\nppid = os.getppid()\n"
    "try:\n    {}\nexcept OSError as e:\n    print('refused', e.errno)\n"
    "time.sleep(0.3)\nprint('killed' if os.getppid() != ppid else 'parent-alive')"
)


@pytest.mark.parametrize(
    "program",
    [
        KILL_CHECK.format("os.kill(ppid, signal.SIGKILL)"),
        KILL_CHECK.format("os.killpg(os.getpgid(ppid), signal.SIGKILL)"),
        KILL_CHECK.format("os.kill(-1, signal.SIGKILL)"),  # every process it may signal
    ],
    ids=["parent", "parent-group", "everyone"],
)
def test_kill_the_parent(code_verifier, program):
    workers = {p.pid for p in code_verifier._get_pool()._processes.values()}
    out, res, el = attack(code_verifier, program, "killed")
    assert_contained(out, res, el)
    assert res.status == "ok" and res.stdout.endswith(b"parent-alive\n")
    assert workers == {p.pid for p in code_verifier._get_pool()._processes.values()}
    for pid in workers:
        os.kill(pid, 0)  # still alive
    ok = code_correctness(["p"], ["```python\nprint('fine')\n```"],
                          {"tests": [[{"input": "", "output": "fine"}]]}, code_verifier)
    assert list(ok) == [1.0]


# --- reward gaming: a HumanEval completion must not pass without passing the tests ---------

_STUB = "    return None\n"
_GAMES = {
    "os-exit": _STUB + "import os\nos._exit(0)\n",
    "system-exit": _STUB + "raise SystemExit(0)\n",
    "atexit-exit-0": _STUB + "import atexit, os\natexit.register(lambda: os._exit(0))\n",
    "excepthook": _STUB + "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\n",
    "always-equal": "    class Yes:\n        __eq__ = lambda s, o: True\n"
                    "        __bool__ = lambda s: True\n    return Yes()\n",
    "fake-output": _STUB + "import os\nos.write(1, b'PASS 0123456789abcdef0123456789abcdef\\n')\n"
                   "print('PASS', flush=True)\nos._exit(0)\n",
    "kill-the-checker": _STUB + "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
    "thread-exit": _STUB + "import os, threading, time\n"
                   "threading.Thread(target=lambda: (time.sleep(0.05), os._exit(0))).start()\n",
    "ptrace-the-checker": _STUB + "import ctypes, os\nlibc = ctypes.CDLL(None)\n"
                          "print(libc.ptrace(16, os.getppid(), 0, 0))\nos._exit(0)\n",
}


@pytest.mark.parametrize("name", sorted(_GAMES))
def test_humaneval_reward_cannot_be_gamed(code_verifier, name):
    from svgrl.rewards.code import humaneval_solution, load_humaneval

    p = load_humaneval()[0]
    completion = _GAMES[name]
    # Each trick is real: the naive judge (tests appended, "exit 0 means passed") passes it.
    naive = (humaneval_solution(p["prompt"], completion)
             + f"\n{p['test']}\ncheck({p['entry_point']})\n")
    pool = code_verifier._get_pool()
    res, _ = pool.submit(sandbox.run, sandbox.python_argv("/box/main.py"), {"main.py": naive},
                         b"", code_verifier.config.test_limits()).result()
    if name not in ("kill-the-checker", "ptrace-the-checker"):
        assert res.status == "ok", (name, res.stderr[-300:])
    out = code_correctness(
        [p["prompt"]], [f"```python\n{completion}```"],
        {"test": [p["test"]], "entry_point": [p["entry_point"]], "code_prompt": [p["prompt"]]},
        code_verifier,
    )
    assert list(out) == [0.0], (name, out.parts["reason"])
    assert sandbox_pids() == []
    honest = code_correctness(
        [p["prompt"]], [f"```python\n{p['canonical_solution']}```"],
        {"test": [p["test"]], "entry_point": [p["entry_point"]], "code_prompt": [p["prompt"]]},
        code_verifier,
    )
    assert list(honest) == [1.0]


_CPP_GAMES = {
    "quick-exit": "#include <cstdlib>\nint main() { std::quick_exit(0); }",
    "atexit-exit-0": "#include <cstdlib>\n#include <cstdio>\nint main() {\n"
                     "  std::atexit([] { std::_Exit(0); });\n"
                     "  std::puts(\"maybe\");\n  return 1; }",
    "exit-0-no-output": "int main() { return 0; }",
}


@pytest.mark.parametrize("name", sorted(_CPP_GAMES))
def test_cpp_reward_cannot_be_gamed(code_verifier, name):
    tests = [{"input": f"{a} {b}\n", "output": f"{a + b}\n"} for a, b in [(1, 2), (5, 8)]]
    out = code_correctness(["add"], [f"```cpp\n{_CPP_GAMES[name]}\n```"], {"tests": [tests]},
                           code_verifier)
    assert list(out) == [0.0], out.parts["reason"]
    assert out.parts["reason"][0] == "test1_wrong"  # it compiled and ran: judged by output
    assert sandbox_pids() == []


# --- memory per run: tricks that hold memory outside one process's address space ----------

_FORK_AMPLIFY = """
import os
r, w = os.pipe()
kids = 0
for _ in range(64):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        held, chunk = [], 16 << 20
        while chunk >= 1 << 20:
            try:
                held.append(bytearray(chunk))
            except MemoryError:
                chunk //= 2
        os.write(w, b"%d\\n" % sum(map(len, held)))
        os.close(w)
        import time
        time.sleep(30)
    kids += 1
os.close(w)
total = sum(int(x) for x in os.fdopen(r).read().split())
print("kids", kids, "mb", total >> 20, flush=True)
"""

_MEMFD = """
import os
held = 0
try:
    for i in range(10_000):
        fd = os.memfd_create(f"m{i}")
        os.ftruncate(fd, 16 << 20)
        os.pwrite(fd, b"x" * (1 << 20), 0)
        held += 1 << 20
    print("memfd", "ok", held >> 20)
except OSError as e:
    print("memfd", "refused", e.errno, held >> 20)
"""

_SYSV_SHM = """
import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.shmat.restype = ctypes.c_void_p
held = 0
for i in range(100_000):
    sid = libc.shmget(0, 8 << 20, 0o1000 | 0o600)  # IPC_PRIVATE, IPC_CREAT
    if sid < 0:
        break
    addr = libc.shmat(sid, None, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        break
    ctypes.memset(addr, 1, 8 << 20)
    libc.shmdt(ctypes.c_void_p(addr))
    held += 8 << 20
print("shm", held >> 20, "errno", ctypes.get_errno())
"""

_INODES = """
import os
n = 0
try:
    for n in range(1_000_000):
        open(f"/tmp/f{n}", "w").close()
except OSError as e:
    print("files", n, "errno", e.errno)
"""


def _raw(code_verifier, program: str, limits=None):
    pool = code_verifier._get_pool()
    t0 = time.monotonic()
    res, _ = pool.submit(sandbox.run, sandbox.python_argv("/box/main.py"), {"main.py": program},
                         b"", limits or code_verifier.config.test_limits()).result()
    return res, time.monotonic() - t0


def test_run_memory_bound_is_stated():
    lim = CodeConfig().test_limits()
    assert lim.run_memory_bound_mb == 4 * 300 + 64 + 16


def test_fork_amplification_stays_within_the_run_bound(code_verifier):
    lim = code_verifier.config.test_limits()
    out = code_correctness(["a"], [f"```python\n{_FORK_AMPLIFY}\n```"],
                           {"tests": [[{"input": "", "output": "never"}]]}, code_verifier)
    assert list(out) == [0.0]
    res, el = _raw(code_verifier, _FORK_AMPLIFY)
    words = res.stdout.split()
    kids, mb = int(words[1]), int(words[3])
    assert kids <= lim.nproc - 1  # RLIMIT_NPROC stopped the forks
    assert 0 < mb <= lim.nproc * lim.memory_mb  # every child at its address-space limit
    assert el < WALL + SLACK and sandbox_pids() == []


def test_memfd_is_refused(code_verifier):
    res, el = _raw(code_verifier, _MEMFD)
    assert res.stdout.split()[:3] == [b"memfd", b"refused", b"1"]  # EPERM from seccomp
    assert sandbox_pids() == []


def test_sysv_shared_memory_is_capped(code_verifier):
    lim = code_verifier.config.test_limits()
    res, el = _raw(code_verifier, _SYSV_SHM)
    held = int(res.stdout.split()[1])
    assert held <= lim.shm_mb
    out = _raw(code_verifier, _SYSV_SHM)[0]  # a fresh IPC namespace: nothing was left over
    assert int(out.stdout.split()[1]) == held
    assert sandbox_pids() == []


def test_inode_flood_is_capped(code_verifier):
    lim = code_verifier.config.test_limits()
    res, el = _raw(code_verifier, _INODES)
    words = res.stdout.split()
    assert words[0] == b"files" and int(words[1]) < lim.inodes
    assert int(words[3]) == 28  # ENOSPC: the tmpfs ran out of inodes, not of bytes
    assert el < WALL + SLACK and sandbox_pids() == []
