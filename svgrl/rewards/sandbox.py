"""Run untrusted programs (model-written code) with hard limits.

Magistral §2.2 runs each test with a 4 s wall limit and 300 MB of memory. svgrl adds the
containment an RL loop needs, because the program is hostile by assumption:

``full`` isolation (used when we are root and the kernel allows namespaces — probed once):
  * new mount, network, IPC and UTS namespaces (``unshare(2)``): the network namespace has only
    a downed loopback, so no socket reaches anything;
  * ``chroot`` into a fresh tmpfs (64 MB) holding read-only bind mounts of ``/usr`` (libc,
    compilers, headers) and of the Python prefix, the run's files read-only at ``/box``, and a
    writable working directory ``/work`` — ``/etc``, ``/root``, ``/home`` and the project are
    simply absent, so "read /etc/passwd" fails with ENOENT;
  * a uid of its own (``1_000_000 + worker pid``) with no groups: it cannot signal or ptrace our
    processes, and every process it leaves behind (even a ``setsid`` daemon that escaped the
    process group) is found by uid in ``/proc`` and killed at the end;
  * rlimits: address space (RLIMIT_AS), data, CPU, file size, no core files, and a process
    count (RLIMIT_NPROC is per uid — hence the uid per worker, so one fork bomb cannot starve
    the others).

Memory per *run*, not only per process. With a writable cgroup v2 that offers the memory
controller, each run gets its own cgroup with ``memory.max`` = `Limits.run_memory_mb` (and
``pids.max``), which counts every page the run owns. Without one (this fallback is what a
cgroup-v1 host or an unprivileged container gets), the total is bounded by construction —
`Limits.run_memory_bound_mb`:

  * processes: at most ``nproc`` × ``memory_mb`` of address space (fork amplification);
  * files: the private tmpfs is ``disk_mb`` in size and ``inodes`` in file count (an inode
    flood costs kernel memory even for empty files); /dev/shm is not mounted;
  * SysV shared memory and message queues: the run's own IPC namespace gets
    ``shmall``/``shmmax`` = ``shm_mb`` and ``msgmni`` = 4; POSIX queues: RLIMIT_MSGQUEUE 0;
  * ``memfd_create`` is refused by a seccomp filter (anonymous tmpfs files escape every
    limit above: RLIMIT_FSIZE caps one file, not how many);
  * at most 64 open files per process (bounds pipe and socket buffers).

``rlimits`` isolation (fallback when not root or namespaces are unavailable): only the rlimits,
a new session killed as a group, and a fresh temporary working directory. It does **not** stop
network access, reading world-readable files, or a daemon that calls ``setsid``; the code
reward refuses to run in that mode unless ``allow_weak_sandbox=True``.

The child is set up in ``preexec_fn``, which is only safe in a single-threaded process; the
code reward therefore calls :func:`run` from pool workers (see ``svgrl.rewards.code``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from svgrl.errors import ConfigError

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV = 1, 2, 4
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18

_UID_BASE = 1_000_000
# Read-only host trees the sandbox sees: /usr holds libc, g++ and its headers (/bin, /lib are
# symlinks into it on merged-/usr systems); the Python prefix is wherever the interpreter lives.
_PYTHON_PREFIX = Path(sys.base_prefix).resolve()
_PYTHON = str(Path(sys.base_prefix, "bin", f"python{sys.version_info[0]}.{sys.version_info[1]}"))


@dataclass(frozen=True)
class Limits:
    """Per-run limits (defaults: Magistral §2.2 — 4 s wall, 300 MB memory per test)."""

    wall_s: float = field(default=4.0, metadata={"help": "wall-clock limit per run (s)"})
    memory_mb: int = field(default=300, metadata={"help": "address-space limit (RLIMIT_AS), MB"})
    cpu_s: int = field(default=5, metadata={"help": "CPU-time limit (RLIMIT_CPU), s"})
    nproc: int = field(default=16, metadata={"help": "max processes/threads of the sandbox uid"})
    file_mb: int = field(default=16, metadata={"help": "max size of any written file, MB"})
    disk_mb: int = field(default=64, metadata={"help": "size of the sandbox tmpfs, MB"})
    output_bytes: int = field(default=1 << 20, metadata={"help": "stdout/stderr bytes kept"})
    inodes: int = field(default=2048, metadata={"help": "most files in the sandbox tmpfs"})
    shm_mb: int = field(default=16, metadata={"help": "SysV shared memory of the run, MB"})

    def __post_init__(self) -> None:
        if not (0 < self.wall_s <= 600):
            raise ConfigError(f"wall_s={self.wall_s}: use a value in (0, 600] seconds")
        for name in ("memory_mb", "cpu_s", "nproc", "file_mb", "disk_mb", "output_bytes",
                     "inodes", "shm_mb"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}={getattr(self, name)}: must be a positive number")
        if self.file_mb > self.disk_mb:
            raise ConfigError(f"file_mb={self.file_mb} > disk_mb={self.disk_mb}: lower file_mb")

    @property
    def run_memory_bound_mb(self) -> int:
        """What one run can hold at most without a memory cgroup: every process at its
        address-space limit, the tmpfs full, and the SysV shared-memory allowance."""
        return self.nproc * self.memory_mb + self.disk_mb + self.shm_mb


@dataclass(frozen=True)
class RunResult:
    """What happened. `status` is one of ``ok`` (exit 0), ``error`` (non-zero exit),
    ``signal`` (killed by a signal, e.g. SIGXFSZ / SIGSEGV), ``timeout`` or ``setup``
    (the sandbox itself could not start the program)."""

    status: str
    returncode: int | None
    stdout: bytes
    stderr: bytes
    wall_s: float
    isolation: str
    leftover_killed: int = 0


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    libc = _libc()
    _check(
        libc.mount(
            src.encode(), dst.encode(), fstype.encode() if fstype else None, flags,
            data.encode() if data else None,
        ),
        f"mount {src} -> {dst}",
    )


def _bind(src: str, dst: str, *, writable: bool = False) -> None:
    _mount(src, dst, None, _MS_BIND | _MS_REC)
    if not writable:
        _mount("none", dst, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_REC)


def _set_rlimits(limits: Limits) -> None:
    mb = 1 << 20
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_mb * mb, limits.memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.nproc, limits.nproc))
    resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))


# seccomp: refuse memfd_create (and memfd_secret) with EPERM, allow everything else.
_SECCOMP_ARCH = {"x86_64": (0xC000003E, (319, 447)), "aarch64": (0xC00000B7, (279, 447))}
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


@functools.cache
def _seccomp_program() -> tuple[_SockFprog, ctypes.Array] | None:
    arch = _SECCOMP_ARCH.get(os.uname().machine)
    if arch is None:
        return None
    audit, denied = arch
    ld_w_abs, jeq_k, jge_k, ret_k = 0x20, 0x15, 0x35, 0x06
    allow, eperm, kill = 0x7FFF0000, 0x00050000 | 1, 0x80000000
    ins = [(ld_w_abs, 0, 0, 4), (jeq_k, 1, 0, audit), (ret_k, 0, 0, kill), (ld_w_abs, 0, 0, 0),
           (jge_k, len(denied) + 1, 0, 0x40000000)]  # the x32 syscall numbers: refused
    for i, nr in enumerate(denied):  # each: equal → jump to the EPERM return at the end
        ins.append((jeq_k, len(denied) - i, 0, nr))
    ins += [(ret_k, 0, 0, allow), (ret_k, 0, 0, eperm)]
    arr = (_SockFilter * len(ins))(*[_SockFilter(*x) for x in ins])
    return _SockFprog(len(ins), arr), arr


def _install_seccomp() -> None:
    prog = _seccomp_program()
    if prog is None:
        return
    libc = _libc()
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    _check(libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog[0]), 0, 0),
           "prctl(SECCOMP)")


def _limit_ipc(limits: Limits) -> None:
    """Inside the run's fresh IPC namespace: its SysV shared memory and message queues."""
    pages = max(1, (limits.shm_mb << 20) // resource.getpagesize())
    for name, value in (("kernel/shmmax", limits.shm_mb << 20), ("kernel/shmall", pages),
                        ("kernel/shmmni", 16), ("kernel/msgmni", 4)):
        with open(f"/proc/sys/{name}", "w") as f:
            f.write(str(value))


def _enter_full(root: str, box: str, uid: int, limits: Limits, box_writable: bool) -> None:
    """Child side of ``full`` isolation (runs after fork, before exec)."""
    _check(
        _libc().unshare(_CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS), "unshare"
    )
    # Nothing mounted below may propagate back to the host namespace.
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)
    _limit_ipc(limits)
    _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV,
           f"size={limits.disk_mb}m,nr_inodes={limits.inodes},mode=755")
    for d in ("usr", "box", "work", "tmp", "dev"):
        os.mkdir(f"{root}/{d}")
    for link in ("bin", "lib", "lib64", "sbin"):
        target = os.readlink(f"/{link}") if os.path.islink(f"/{link}") else None
        if target:
            os.symlink(target, f"{root}/{link}")
    _bind("/usr", f"{root}/usr")
    if not str(_PYTHON_PREFIX).startswith("/usr/"):
        os.makedirs(f"{root}{_PYTHON_PREFIX}")
        _bind(str(_PYTHON_PREFIX), f"{root}{_PYTHON_PREFIX}")
    for dev in ("null", "zero", "urandom"):
        open(f"{root}/dev/{dev}", "w").close()
        _mount(f"/dev/{dev}", f"{root}/dev/{dev}", None, _MS_BIND)
    _bind(box, f"{root}/box", writable=box_writable)
    os.chown(f"{root}/work", uid, uid)
    os.chmod(f"{root}/tmp", 0o1777)
    os.chdir(root)
    os.chroot(".")
    os.chdir("/work")
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    _set_rlimits(limits)
    _install_seccomp()


def _enter_rlimits(limits: Limits) -> None:
    _set_rlimits(limits)
    _install_seccomp()


@functools.cache
def isolation() -> str:
    """``"full"`` if namespaces + chroot + setuid work here, else ``"rlimits"`` (probed once by
    actually running a sandboxed ``true``)."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return "rlimits"
    try:
        res = _run(["/usr/bin/true"], b"", Limits(), "full", box_writable=False)
    except OSError:
        return "rlimits"
    return "full" if res.status == "ok" else "rlimits"


def sandbox_uid() -> int:
    """The uid this (single-threaded) worker gives its sandboxed programs."""
    return _UID_BASE + os.getpid()


_PR_SET_CHILD_SUBREAPER = 36
_SUBREAPER = False


def become_subreaper() -> None:
    """Make this process adopt its orphaned descendants (``PR_SET_CHILD_SUBREAPER``), so the
    processes a sandboxed program leaves behind are reaped here, not by whatever runs as pid 1.
    Only for processes that own no other children (e.g. pool workers): `run` then reaps any
    exited child."""
    global _SUBREAPER
    _check(_libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")
    _SUBREAPER = True


def _reap() -> None:
    while _SUBREAPER:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _pids_of_uid(uid: int, zombies: bool = False) -> list[int]:
    """Processes owned by `uid`: live ones, plus zombies when `zombies`."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as f:
                state = b""
                for line in f:
                    if line.startswith(b"State:"):
                        state = line.split()[1]
                    elif line.startswith(b"Uid:"):
                        if int(line.split()[1]) == uid and (zombies or state != b"Z"):
                            pids.append(int(entry.name))
                        break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return pids


def _kill_uid(uid: int) -> int:
    """Kill every process owned by `uid` until none is left (a fork bomb may keep forking while
    we kill, so loop). Returns how many were killed."""
    killed = 0
    for _ in range(500):
        _reap()
        pids = _pids_of_uid(uid)
        if not pids:
            # Killed children are re-parented to this worker (a subreaper) asynchronously:
            # reap until no zombie of the uid is left either, so nothing stays behind.
            for _ in range(100):
                _reap()
                if not _pids_of_uid(uid, zombies=True):
                    break
                time.sleep(0.002)
            return killed
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.002)
    return killed


def _read_capped(path: Path, cap: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(cap)


def run(
    argv: list[str],
    files: dict[str, bytes | str] | None = None,
    stdin: bytes | str = b"",
    limits: Limits | None = None,
    *,
    box_writable: bool = False,
    collect: tuple[str, ...] = (),
    exec_files: tuple[str, ...] = (),
) -> tuple[RunResult, dict[str, bytes]]:
    """Run `argv` in a sandbox. `files` are placed in ``/box`` (read-only unless
    `box_writable`, which compilation needs); the working directory is a fresh writable
    ``/work``. Files named in `exec_files` are made executable; files named in `collect` are
    read back from ``/box`` afterwards.

    Never raises for anything the program does; raises ``OSError`` only when the sandbox itself
    cannot be set up on this machine.
    """
    limits = limits or Limits()
    tmp = Path(tempfile.mkdtemp(prefix="svgrl-sbx-"))
    try:
        box = tmp / "box"
        box.mkdir()
        for name, data in (files or {}).items():
            if "/" in name or name.startswith("."):
                raise ConfigError(f"sandbox file name {name!r} must be a plain file name")
            (box / name).write_bytes(data.encode() if isinstance(data, str) else data)
            os.chmod(box / name, 0o755 if name in exec_files else 0o644)
        mode = isolation()
        if mode == "full":
            os.chmod(tmp, 0o755)
            os.chmod(box, 0o777 if box_writable else 0o755)
        result = _run(argv, stdin, limits, mode, box_writable=box_writable, tmp=tmp)
        collected = {}
        for name in collect:
            p = box / name
            if p.is_file() and not p.is_symlink():
                collected[name] = p.read_bytes()
        return result, collected
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(
    argv: list[str],
    stdin: bytes | str,
    limits: Limits,
    mode: str,
    *,
    box_writable: bool,
    tmp: Path | None = None,
) -> RunResult:
    own_tmp = tmp is None
    if tmp is None:
        tmp = Path(tempfile.mkdtemp(prefix="svgrl-sbx-"))
        (tmp / "box").mkdir()
        os.chmod(tmp, 0o755)
    try:
        root = tmp / "root"
        root.mkdir()
        work = tmp / "work"
        work.mkdir()
        io = {n: tmp / n for n in ("stdin", "stdout", "stderr")}
        io["stdin"].write_bytes(stdin.encode() if isinstance(stdin, str) else stdin)
        uid = sandbox_uid()
        if mode == "full":
            def pre() -> None:
                _enter_full(str(root), str(tmp / "box"), uid, limits, box_writable)
            cwd = None
            env = {"PATH": "/usr/bin:/bin", "HOME": "/work", "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
        else:
            def pre() -> None:
                _enter_rlimits(limits)
            cwd = str(work)
            env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8",
                   "TMPDIR": str(work)}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        t0 = time.monotonic()
        with open(io["stdin"], "rb") as fin, open(io["stdout"], "wb") as fout, open(
            io["stderr"], "wb"
        ) as ferr:
            try:
                proc = subprocess.Popen(
                    argv, stdin=fin, stdout=fout, stderr=ferr, cwd=cwd, env=env,
                    preexec_fn=pre, start_new_session=True, close_fds=True,
                )
            except (subprocess.SubprocessError, OSError) as e:
                if mode == "full" and not isinstance(e, FileNotFoundError):
                    raise OSError(f"sandbox setup failed: {e}") from e
                return RunResult("setup", None, b"", str(e).encode(), 0.0, mode)
            try:
                rc: int | None = proc.wait(timeout=limits.wall_s)
                status = "ok" if rc == 0 else ("signal" if rc < 0 else "error")
            except subprocess.TimeoutExpired:
                rc, status = None, "timeout"
            # The whole group, then anything that left it (setsid daemons) by uid.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            if rc is None:
                proc.wait()
            leftover = _kill_uid(uid) if mode == "full" else 0
        wall = time.monotonic() - t0
        return RunResult(
            status, rc, _read_capped(io["stdout"], limits.output_bytes),
            _read_capped(io["stderr"], limits.output_bytes), wall, mode, leftover,
        )
    finally:
        if own_tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def python_argv(script: str) -> list[str]:
    """argv running `script` (a path inside the sandbox) with the host's base interpreter in
    isolated mode (no site-packages, no user paths, no env vars)."""
    return [_PYTHON, "-I", "-S", script]


__all__ = [
    "Limits", "RunResult", "become_subreaper", "isolation", "python_argv", "run", "sandbox_uid",
]
