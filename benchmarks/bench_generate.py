"""Decoding throughput with and without the grammar logits processor, measured side by side.

Same model (tiny, random weights), prompt, sampling preset, batch and seed; the runs
alternate (grammar, free, grammar, free, ...) so machine load hits both alike, and the
median of each is reported. Throughput = batch × decoding steps / CPU seconds of this
process (one torch thread); the grammar
costs a per-row state update and one (B, V) bias add per step. Goal: ≤ 5 % slower.

    .venv/bin/python benchmarks/bench_generate.py [--batch 16] [--tokens 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from svgrl.model.backbones import BackboneConfig, prepare_backbone
from svgrl.model.generate import generate_ids
from svgrl.model.prompts import build_prompt
from svgrl.model.sampling import PRESETS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    lm = prepare_backbone(BackboneConfig(backbone="tiny", tiny_layers=a.layers,
                                         tiny_d_model=a.d_model), vision=None)
    lm.train(False)
    prompt = build_prompt(lm.tokenizer, lm.layout, "text", text="arrow pointing left")

    def run(grammar: bool) -> float:
        # CPU time of this process: on a shared machine wall time mostly measures the
        # neighbours; with one torch thread, CPU time is the work done.
        t = time.process_time()
        rows = generate_ids(lm, prompt, a.batch, PRESETS["text"], max_new_tokens=a.tokens,
                            grammar=grammar, seed=0, batch_size=a.batch)
        dt = time.process_time() - t
        return a.batch * max(len(r) for r in rows) / dt

    run(True), run(False)  # warm-up: caches, grammar tables, allocator
    rates: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(a.repeats):
        for g in (True, False):
            rates[g].append(run(g))
    with_g, free = statistics.median(rates[True]), statistics.median(rates[False])
    print(f"model tiny {a.layers}x{a.d_model}, vocab {lm.vocab_rows}, batch {a.batch}, "
          f"{a.tokens} new tokens, {a.threads} thread(s), median of {a.repeats}")
    print(f"  without grammar: {free:9.1f} tokens per CPU second")
    print(f"  with grammar:    {with_g:9.1f} tokens per CPU second")
    print(f"  grammar cost:    {100 * (1 - with_g / free):+.1f} %  (goal ≤ 5 %)")


if __name__ == "__main__":
    main()
