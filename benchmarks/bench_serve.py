"""`svgrl serve` under load, on loopback: N concurrent clients against one server (their
requests batched together) vs the same requests sent one at a time, measured side by side.

The server runs as its own process (``python -m svgrl.cli serve``, bound to 127.0.0.1 — the
script refuses any other host), serving ``--run`` or a tiny random model written to a temp
run folder. Rounds alternate (one at a time, concurrent, one at a time, ...) so machine load
hits both alike; the median of each is reported. Every request carries its own id; the
script checks that each id is answered exactly once with ``n`` samples (none lost, none
answered twice) and that the server's own counters agree. The server's resident memory is
read from /proc after the warm-up and after every round: flat means no growth per round.
On a shared machine wall-clock rates move with the neighbours; the server's CPU time per
sample (from /proc) is reported beside them.

    .venv/bin/python benchmarks/bench_serve.py [--clients 8] [--per-client 3] [--n 2]
        [--tokens 64] [--rounds 2] [--time-limit 600] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def tiny_run(folder: Path, layers: int, d_model: int) -> str:
    from svgrl.model.backbones import BackboneConfig, prepare_backbone
    from svgrl.model.checkpoint import RunDir

    lm = prepare_backbone(BackboneConfig(backbone="tiny", tiny_layers=layers,
                                         tiny_d_model=d_model, seed=0), vision=(32, 8))
    run = RunDir(folder / "run")
    run.open(kind="sft", config={"note": f"random tiny {layers}x{d_model} for bench_serve"},
             resume=False)
    run.save_checkpoint(0, lm, {"step": 0})
    return str(run.root)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def phase(url: str, clients: int, per_client: int, n: int, tokens: int, tag: str,
          deadline: float, pid: int) -> dict:
    """`clients` threads, each sending `per_client` requests one after another."""
    answers: list[tuple[str, int, float, int]] = []  # (id, status, seconds, samples)
    lock = threading.Lock()

    def client(c: int) -> None:
        with httpx.Client(base_url=url, timeout=max(1.0, deadline - time.monotonic())) as h:
            for k in range(per_client):
                rid = f"{tag}-{c}-{k}"
                t = time.monotonic()
                r = h.post("/v1/generate", json={"text": f"icon number {c * 31 + k}", "n": n,
                                                 "max_new_tokens": tokens, "id": rid,
                                                 "seed": c * 1000 + k})
                dt = time.monotonic() - t
                body = r.json()
                with lock:
                    answers.append((body.get("id", rid if r.status_code != 200 else None),
                                    r.status_code, dt, len(body.get("samples", []))))

    t0, c0 = time.monotonic(), cpu_s(pid)
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.monotonic() - t0, cpu_s(pid) - c0
    sent = {f"{tag}-{c}-{k}" for c in range(clients) for k in range(per_client)}
    ok = [a for a in answers if a[1] == 200 and a[3] == n]
    ids = [a[0] for a in ok]
    lat = [a[2] for a in ok]
    return {"requests": len(sent), "answered": len(ids), "lost": len(sent - set(ids)),
            "duplicated": len(ids) - len(set(ids)), "errors": len(answers) - len(ok),
            "wall_s": wall, "samples_per_s": len(ok) * n / wall,
            "server_cpu_ms_per_sample": 1000 * cpu / max(1, len(ok) * n),
            "p50_s": percentile(lat, 0.5) if lat else None,
            "p95_s": percentile(lat, 0.95) if lat else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default="", help="run folder (default: a tiny random model)")
    ap.add_argument("--host", default="127.0.0.1", help="loopback only")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--per-client", type=int, default=3)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("bench_serve binds loopback only")
    if not (1 <= a.clients <= 64 and 1 <= a.per_client <= 50 and 1 <= a.rounds <= 10):
        sys.exit("keep it bounded: --clients 1..64, --per-client 1..50, --rounds 1..10")
    deadline = time.monotonic() + a.time_limit
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        run = a.run or tiny_run(Path(tmp), a.layers, a.d_model)
        port = free_port()
        rows = a.clients * a.n
        cmd = [sys.executable, "-m", "svgrl.cli", "serve", "--run", run, "--host", a.host,
               "--port", str(port), "--max-batch-rows", str(max(rows, 32)),
               "--max-n", str(a.n), "--max-queue", str(max(64, a.clients)),
               "--threads", "1"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        url = f"http://{a.host}:{port}"
        try:
            while True:
                if server.poll() is not None:
                    sys.exit(f"server exited: {server.stderr.read()}")
                try:
                    if httpx.get(url + "/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit("server did not come up within --time-limit")
                time.sleep(0.2)
            # Warm-up: caches, grammar tables, the allocator.
            phase(url, a.clients, 1, a.n, a.tokens, "warmup", deadline, server.pid)
            rss = [rss_mb(server.pid)]
            seq, conc = [], []
            for r in range(a.rounds):
                seq.append(phase(url, 1, a.clients * a.per_client, a.n, a.tokens,
                                 f"seq{r}", deadline, server.pid))
                rss.append(rss_mb(server.pid))
                conc.append(phase(url, a.clients, a.per_client, a.n, a.tokens, f"conc{r}",
                                  deadline, server.pid))
                rss.append(rss_mb(server.pid))
                if time.monotonic() > deadline:
                    sys.exit("--time-limit reached")
            stats = httpx.get(url + "/health", timeout=5).json()
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()

    def summary(ph: list[dict]) -> dict:
        return {"samples_per_s": round(statistics.median(p["samples_per_s"] for p in ph), 2),
                "p50_s": round(statistics.median(p["p50_s"] for p in ph), 3),
                "p95_s": round(statistics.median(p["p95_s"] for p in ph), 3),
                "server_cpu_ms_per_sample": round(statistics.median(
                    p["server_cpu_ms_per_sample"] for p in ph), 1),
                "rounds": [round(p["samples_per_s"], 2) for p in ph]}

    every = seq + conc
    sent = sum(p["requests"] for p in every) + a.clients  # + warm-up
    result = {
        "model": a.run or f"tiny {a.layers}x{a.d_model} (random weights)",
        "host": a.host, "clients": a.clients, "requests_per_client": a.per_client,
        "n": a.n, "max_new_tokens": a.tokens, "rounds": a.rounds,
        "one_at_a_time": summary(seq), "concurrent": summary(conc),
        "speedup": round(statistics.median(p["samples_per_s"] for p in conc)
                         / statistics.median(p["samples_per_s"] for p in seq), 2),
        # Robust to neighbours on a shared machine: the server's CPU work per sample.
        "cpu_per_sample_ratio": round(statistics.median(p["server_cpu_ms_per_sample"]
                                                        for p in seq)
                                      / statistics.median(p["server_cpu_ms_per_sample"]
                                                          for p in conc), 2),
        "requests": {"sent": sent, "lost": sum(p["lost"] for p in every),
                     "duplicated": sum(p["duplicated"] for p in every),
                     "errors": sum(p["errors"] for p in every),
                     "server_completed": stats["completed"],
                     "server_cancelled": stats["cancelled"],
                     "server_rejected": stats["rejected"]},
        "server_peak_rows": stats["peak_rows"], "server_peak_requests": stats["peak_requests"],
        "server_rss_mb": [round(x, 1) for x in rss],
        "rss_growth_after_first_round_mb": round(rss[-1] - rss[2], 1),
    }
    ok = (result["requests"]["lost"] == 0 and result["requests"]["duplicated"] == 0
          and result["requests"]["errors"] == 0 and stats["completed"] == sent)
    result["all_answered_once"] = ok
    if a.json:
        print(json.dumps(result, indent=1))
    else:
        s, c = result["one_at_a_time"], result["concurrent"]
        print(f"{result['model']}, {a.clients} clients × {a.per_client} requests × n={a.n}, "
              f"{a.tokens} tokens, {a.rounds} rounds (median)")
        print(f"  one at a time: {s['samples_per_s']:7.2f} samples/s  p50 {s['p50_s']:.3f} s  "
              f"p95 {s['p95_s']:.3f} s  server CPU {s['server_cpu_ms_per_sample']} ms/sample")
        print(f"  concurrent:    {c['samples_per_s']:7.2f} samples/s  p50 {c['p50_s']:.3f} s  "
              f"p95 {c['p95_s']:.3f} s  server CPU {c['server_cpu_ms_per_sample']} ms/sample")
        print(f"  batching: {result['speedup']}× the samples/s, "
              f"{result['cpu_per_sample_ratio']}× less server CPU per sample")
        print(f"  requests: {sent} sent, lost {result['requests']['lost']}, answered twice "
              f"{result['requests']['duplicated']}, errors {result['requests']['errors']}; "
              f"peak {stats['peak_rows']} rows of {stats['peak_requests']} requests per step")
        print(f"  server RSS MB: {result['server_rss_mb']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
