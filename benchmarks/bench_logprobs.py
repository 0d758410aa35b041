"""Completion log-probs (forward + backward of the GRPO update's log-prob pass): the LM head
over chunks of positions (`svgrl.rl.policy.completion_logprobs`) vs the whole (B, T, V)
logits tensor (`forward_logits`), side by side in one run.

Each measurement runs in a fresh process (so one's peak cannot hide the other's): peak
memory = the process's peak RSS during the call minus its RSS just before (the model and
the batch are already built); time = wall seconds of forward + backward, best of
`--repeats`. Two configs: the tiny byte model (260 ids) and the same tiny transformer with
a 197k-id vocabulary (Qwen2.5-VL's is 152k, Qwen3's 151k, Gemma's 262k), where the
whole logits tensor dominates.

    python benchmarks/bench_logprobs.py [--batch 4] [--completion 128] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def child(a: argparse.Namespace) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from svgrl.rl.grpo import token_logprobs
    from svgrl.rl.policy import build_micro, completion_logprobs, forward_logits

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=a.vocab, hidden_size=64, intermediate_size=128,
                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                      max_position_embeddings=4096, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    g = torch.Generator().manual_seed(1)
    prompts = [torch.randint(0, a.vocab, (16,), generator=g).tolist()] * a.batch
    comps = [torch.randint(0, a.vocab, (a.completion - 3 * i,), generator=g).tolist()
             for i in range(a.batch)]
    mb = build_micro(list(range(a.batch)), prompts, comps, pad_id=0, group=[0] * a.batch)

    def run() -> float:
        if a.mode == "chunked":
            lp, _ = completion_logprobs(model, mb)
        else:
            lp, _ = token_logprobs(forward_logits(model, mb), mb.targets)
        loss = (lp * mb.mask).sum()
        loss.backward()
        model.zero_grad(set_to_none=True)
        return float(loss)

    best, value = float("inf"), 0.0
    before = rss_kb()
    for _ in range(a.repeats):
        t = time.perf_counter()
        value = run()
        best = min(best, time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": best, "peak_mib": max(0, peak - before) / 1024,
                      "loss": value}))


def measure(a: argparse.Namespace, mode: str, vocab: int) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--vocab", str(vocab),
           "--batch", str(a.batch), "--completion", str(a.completion),
           "--repeats", str(a.repeats), "--threads", str(a.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=4, help="sequences B")
    ap.add_argument("--completion", type=int, default=128, help="longest completion T")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="last line: one JSON object")
    ap.add_argument("--child", choices=["whole", "chunked"], help=argparse.SUPPRESS)
    ap.add_argument("--vocab", type=int, default=260, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        a.mode = a.child
        child(a)
        return
    report: dict = {"batch": a.batch, "completion": a.completion, "threads": a.threads}
    for name, vocab in (("tiny", 260), ("vocab_197k", 197_000)):
        whole, chunked = measure(a, "whole", vocab), measure(a, "chunked", vocab)
        report[name] = {"vocab": vocab, "whole": whole, "chunked": chunked,
                        "loss_diff": abs(whole["loss"] - chunked["loss"]),
                        "memory_ratio": whole["peak_mib"] / max(chunked["peak_mib"], 1e-9),
                        "time_ratio": chunked["seconds"] / whole["seconds"]}
        r = report[name]
        print(f"{name} (V={vocab}, B={a.batch}, T={a.completion}): peak memory whole "
              f"{whole['peak_mib']:.0f} MiB, chunked {chunked['peak_mib']:.0f} MiB "
              f"({r['memory_ratio']:.1f}x less); time whole {whole['seconds']:.2f} s, chunked "
              f"{chunked['seconds']:.2f} s ({r['time_ratio']:.2f}x); |Δ loss| "
              f"{r['loss_diff']:.2e}")
    if a.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
