"""Tokenizer benchmark: compactness vs BPE, encode/decode throughput, grammar per-step cost.

    .venv/bin/python benchmarks/bench_tokens.py [--limit N] [--json]

Prints, measured side by side in one run:
- compactness: mean SVG-token length / mean SmolLM2 BPE length of the same drawing written as
  compact SVG text (`to_svg`), on Tabler (PyPI) and OpenMoji colour (npm cache) — target ≤ 0.25;
- throughput: encode, decode and encode+decode files/s, against the BPE tokenizer encoding the
  SVG text of the same files; decode+render rewards/s (target ≥ 3,000/s);
- grammar: µs per step (advance + mask) over a 2,000-token sequence, against recomputing the
  mask from the token classes each step.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from svgrl.data.npm import default_cache_root
from svgrl.svg.load import load_drawing
from svgrl.svg.render import render
from svgrl.svg.write import to_svg
from svgrl.tokens.codec import decode, encode
from svgrl.tokens.grammar import Grammar
from svgrl.tokens.hf import load_smollm2_tokenizer
from svgrl.tokens.layout import TokenLayout
from svgrl.tokens.stats import collect_files


def _sets() -> dict[str, Path]:
    spec = importlib.util.find_spec("pytablericons")
    out = {"tabler": Path(next(iter(spec.submodule_search_locations))) / "icons"}
    moji = default_cache_root() / "npm" / "openmoji" / "color" / "svg"
    if moji.is_dir():
        out["openmoji"] = moji
    return out


def _load(folder: Path, limit: int) -> tuple[list, int]:
    files = collect_files((str(folder),), limit)
    ds = []
    for f in files:
        with contextlib.suppress(Exception):  # loader failures are the SVG core's to count
            ds.append(load_drawing(f))
    return ds, len(files)


def _rate(fn, items, repeat: int = 3) -> float:
    """Items per second, best of `repeat` passes."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for x in items:
            fn(x)
        best = min(best, time.perf_counter() - t)
    return len(items) / best


def _grammar_steps(grammar: Grammar, layout: TokenLayout, n: int = 2000) -> dict:
    rng = np.random.default_rng(0)
    st = grammar.start(n)
    seq = []
    while not st.done:  # a random walk that uses the whole budget: EOS forced at the end
        allowed = np.flatnonzero(st.mask())
        t = int(allowed[rng.integers(allowed.size)])
        st.advance(t)
        seq.append(t)
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        st = grammar.start(n)
        for t in seq:
            st.mask()
            st.advance(t)
    ours = (time.perf_counter() - t0) / (reps * len(seq)) * 1e6
    # Baseline: rebuild the mask each step from the allowed classes (no precomputed masks).
    cls = np.asarray(grammar.class_of[: grammar.vocab_size], dtype=np.int8)
    t0 = time.perf_counter()
    st = grammar.start(n)
    for t in seq[:400]:
        allowed = list(grammar.allowed_classes[st.state][st._level()])
        np.isin(cls, allowed)
        st.advance(t)
    naive = (time.perf_counter() - t0) / 400 * 1e6
    import torch

    # One row of logits gains nothing from intra-op threads, and on a loaded machine torch's
    # spinning pool turns a 30 µs add into milliseconds.
    torch.set_num_threads(1)
    logits = torch.randn(grammar.vocab_size)
    st = grammar.start(n)
    for t in seq:  # warm the per-mask bias cache
        st.bias_torch()
        st.advance(t)
    st = grammar.start(n)
    t0 = time.perf_counter()
    for t in seq:
        logits + st.bias_torch()
        st.advance(t)
    apply = (time.perf_counter() - t0) / len(seq) * 1e6
    return {"sequence_tokens": len(seq), "step_us": ours, "rebuild_mask_step_us": naive,
            "speedup": naive / ours, "apply_bias_to_logits_step_us": apply,
            "vocab_size": grammar.vocab_size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=1500, help="files per set (0 = all)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    bpe = load_smollm2_tokenizer()
    layout = TokenLayout(base_vocab_size=len(bpe))
    report: dict = {"grid": layout.grid, "base_vocab_size": layout.base_vocab_size}
    for name, folder in _sets().items():
        ds, n_files = _load(folder, args.limit)
        ids = [encode(d, layout) for d in ds]
        assert all(decode(x, layout) == d for x, d in zip(ids, ds, strict=True))
        texts = [to_svg(d) for d in ds]
        lens = np.array([len(x) for x in ids])
        bpe_lens = np.array([len(bpe(s, add_special_tokens=False)["input_ids"]) for s in texts])
        enc = _rate(lambda d: encode(d, layout), ds)
        dec = _rate(lambda x: decode(x, layout), ids)
        both = _rate(lambda d: decode(encode(d, layout), layout), ds)
        bpe_rate = _rate(lambda s: bpe(s, add_special_tokens=False), texts, repeat=1)
        dec_render = _rate(lambda x: render(decode(x, layout), 200), ids, repeat=1)
        report[name] = {
            "files": n_files, "loaded": len(ds),
            "tokens_mean": float(lens.mean()), "tokens_p95": float(np.percentile(lens, 95)),
            "bpe_tokens_mean": float(bpe_lens.mean()),
            "ratio": float(lens.mean() / bpe_lens.mean()), "ratio_target": 0.25,
            "encode_files_s": enc, "decode_files_s": dec, "encode_decode_files_s": both,
            "decode_tokens_s": dec * float(lens.mean()),
            "bpe_encode_svg_text_files_s": bpe_rate, "encode_vs_bpe_speedup": enc / bpe_rate,
            "decode_render200_files_s": dec_render,
        }
    report["grammar"] = _grammar_steps(Grammar(layout), layout)
    if args.json:
        print(json.dumps(report, indent=1))
        return
    for key, val in report.items():
        if isinstance(val, dict):
            print(f"[{key}]")
            for k, v in val.items():
                print(f"  {k:>28}: {v:,.3f}" if isinstance(v, float) else f"  {k:>28}: {v}")
        else:
            print(f"{key}: {val}")


if __name__ == "__main__":
    main()
