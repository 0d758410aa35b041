"""GRPO with a Qwen2.5-VL policy (the tiny random one of ``tests/conftest.py``): the rollout's
left-padded VL prefill and KV-cached decoding with M-RoPE positions, and the update's
log-prob pass (pixel values, grid sizes, the same positions, chunked LM head) agree with each
other and with the model's own one-sequence forward pass."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.runs import kill_at
from safetensors.torch import load_file

from svgrl.model.backbones import BackboneConfig, prepare_backbone
from svgrl.model.prompts import prompt_for
from svgrl.rl.policy import build_micro, completion_logprobs, forward_logits
from svgrl.rl.rollout import generate
from svgrl.rl.svg import SvgPolicy
from svgrl.tokens.grammar import grammar_for


def _image(h: int, w: int, seed: int) -> np.ndarray:
    rgb = np.full((h, w, 3), 255, np.uint8)
    rng = np.random.default_rng(seed)
    y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
    rgb[y:y + h // 2, x:x + w // 2] = rng.integers(0, 200, 3)
    return rgb


@pytest.fixture(scope="module")
def vl_policy(tiny_qwen_vl):
    torch.manual_seed(0)
    lm = prepare_backbone(BackboneConfig(backbone=str(tiny_qwen_vl)))
    # Sharpen the random model (×6 on the language model's weights) so a wrong position
    # moves the log-probs by ~1e-2, not ~1e-4: the 1e-5 checks below then tell them apart.
    with torch.no_grad():
        for name, w in lm.model.named_parameters():
            if "language_model" in name and "norm" not in name:
                w.mul_(6)
    return SvgPolicy(lm).eval()


def _prompts(lm):
    # Three prompt lengths in one batch: a 56×56 image (2×2 merged patches), a 28×56 one
    # (1×2, another M-RoPE grid) and a text prompt — so the batch is left-padded.
    return [prompt_for(lm, "image", image=_image(56, 56, 0)),
            prompt_for(lm, "image", image=_image(28, 56, 1)),
            prompt_for(lm, "text", text="arrow left")]


def test_update_logprobs_equal_rollout_behaviour_logprobs(vl_policy):
    lm = vl_policy.lm
    prompts = _prompts(lm)
    assert len({len(p.ids) for p in prompts}) == 3
    g = grammar_for(lm.layout, lm.vocab_rows)
    budget = 14
    torch.manual_seed(3)
    b = generate(vl_policy, lm.tokenizer, ["p"] * 3, [{}] * 3, group_size=2,
                 max_new_tokens=budget, temperature=1.3, prompt_ids=[p.ids for p in prompts],
                 images=prompts, grammar=g, eos={lm.layout.eos}, logprobs=True)
    assert len(b) == 6 and all(len(x) == len(c) > 0 for x, c in
                               zip(b.logprobs, b.completion_ids, strict=True))
    assert len({len(c) for c in b.completion_ids}) > 1  # rows ended at different steps
    # The update's microbatch (built as `svgrl.rl.update` builds it), chunked LM head with a
    # chunk smaller than the batch's tokens.
    mb = build_micro(list(range(len(b))), b.prompt_ids, b.completion_ids, lm.layout.pad,
                     b.group, b.images, g, budget)
    assert mb.vl is not None and mb.prompt_mask.min() == 0  # left padding present
    with torch.no_grad():
        logp, _ = completion_logprobs(vl_policy, mb, temperature=1.3, chunk=5)
    worst = 0.0
    for r, lp in enumerate(b.logprobs):
        got = logp[r, :len(lp)]
        worst = max(worst, float((got - torch.tensor(lp)).abs().max()))
    assert worst < 1e-5, worst
    print(f"max |update - behaviour| log-prob: {worst:.2e}")


def test_update_logprobs_equal_one_sequence_forward_of_the_model(vl_policy):
    """The reference is Hugging Face's own forward pass on each prompt + completion alone,
    unpadded, where the model computes its M-RoPE positions itself (``get_rope_index``)."""
    lm = vl_policy.lm
    prompts = _prompts(lm)
    rng = np.random.default_rng(0)
    comps = [[int(t) for t in rng.integers(lm.layout.point_start, lm.layout.point_start + 900,
                                           k)] for k in (7, 3, 5)]
    mb = build_micro([0, 1, 2], [p.ids for p in prompts], comps, lm.layout.pad,
                     [0, 1, 2], prompts)
    with torch.no_grad():
        logp, _ = completion_logprobs(vl_policy, mb)
        full = forward_logits(vl_policy, mb)
        worst = 0.0
        for r, (p, c) in enumerate(zip(prompts, comps, strict=True)):
            ids = torch.tensor([p.ids + c])
            kw = {}
            if p.pixel_values is not None:
                kw = {"pixel_values": p.pixel_values, "image_grid_thw": p.image_grid_thw,
                      "mm_token_type_ids": torch.tensor([p.mm_types() + [0] * len(c)])}
            lm.model.model.rope_deltas = None
            logits = lm.model(input_ids=ids, **kw).logits[0, len(p.ids) - 1:-1]
            want = torch.log_softmax(logits.float(), -1).gather(1, torch.tensor(c)[:, None])[:, 0]
            worst = max(worst, float((logp[r, :len(c)] - want).abs().max()),
                        float((full[r, :len(c)] - logits).abs().max()))
    assert worst < 1e-5, worst
    print(f"max |update - one-sequence HF forward|: {worst:.2e}")


def test_chunked_logprobs_and_their_gradients_equal_the_whole_head_on_the_vl_path(vl_policy):
    """Bounded memory on the VL path: LM head over 3 positions at a time, checkpointed in the
    backward pass, gives the log-probs, entropy and gradients (vision tower included) of the
    whole-logits computation."""
    lm = vl_policy.lm
    prompts = _prompts(lm)
    rng = np.random.default_rng(1)
    comps = [[int(t) for t in rng.integers(lm.layout.point_start, lm.layout.point_start + 900,
                                           k)] for k in (6, 2, 4)]
    mb = build_micro([0, 1, 2], [p.ids for p in prompts], comps, lm.layout.pad, [0, 1, 2],
                     prompts)
    out = []
    for chunk in (3, 10_000):
        vl_policy.zero_grad(set_to_none=True)
        logp, ent = completion_logprobs(vl_policy, mb, with_entropy=True, chunk=chunk)
        (logp.sum() + 0.1 * ent.sum()).backward()
        grads = {n: w.grad.clone() for n, w in vl_policy.named_parameters()
                 if w.grad is not None}
        out.append((logp.detach(), ent.detach(), grads))
    vl_policy.zero_grad(set_to_none=True)
    (lp_a, ent_a, g_a), (lp_b, ent_b, g_b) = out
    assert float((lp_a - lp_b).abs().max()) < 1e-6
    assert float((ent_a - ent_b).abs().max()) < 1e-5
    assert g_a.keys() == g_b.keys() and any("visual" in n for n in g_a)
    # Relative to each gradient's own scale (the sharpened model's reach ~2).
    rel = max(float((g_a[n] - g_b[n]).abs().max() / g_b[n].abs().max().clamp(min=1e-3))
              for n in g_a)
    assert rel < 5e-5, rel  # measured 1.3e-5: float32 summation order of the chunks
    print(f"chunked vs whole: log-prob {float((lp_a - lp_b).abs().max()):.1e}, gradients "
          f"{rel:.1e} relative")


def _grpo(data: str, init: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "svgrl.cli", "train", "grpo", "--task", "svg-image",
            "--init", str(init), "--data", data, "--out", str(out), "--steps", "3",
            "--prompts-per-step", "2", "--group-size", "2", "--learning-rate", "1e-3",
            "--eval-size", "2", "--eval-samples", "1", "--max-completion-length", "16",
            "--minibatches", "2", "--token-budget", "1024", "--save-every", "1",
            "--image-size", "56", "--threads", "1"]


def _final(run: Path) -> tuple[int, dict]:
    latest = json.loads((run / "latest.json").read_text())
    m = run / latest["checkpoint"] / "model"
    assert (m / "preprocessor_config.json").is_file()  # a Qwen folder again
    return latest["step"], load_file(m / "model.safetensors")


@pytest.mark.slow
def test_grpo_steps_run_and_resume_exactly_after_kill_9(tabler_data, tiny_qwen_vl, tmp_path):
    """`svgrl train grpo --task svg-image --init <Qwen2.5-VL model folder>`: three steps with
    two minibatches (so π_old comes from a scoring pass), a checkpoint each step; a second run
    killed with SIGKILL after checkpoint 1 and resumed with ``--resume --out`` ends with every
    tensor — vision tower included — equal to the uninterrupted run's, with the --init folder
    deleted before the resume (the run keeps its start model in RUN/start)."""
    from svgrl.cli import main
    from svgrl.model.folder import save_model_folder

    init = tmp_path / "init"
    save_model_folder(prepare_backbone(BackboneConfig(backbone=str(tiny_qwen_vl))), init)
    ref, run = tmp_path / "ref", tmp_path / "run"
    assert main(_grpo(tabler_data, init, ref)[3:]) == 0
    killed_at = kill_at(_grpo(tabler_data, init, run), run, 1)
    assert 1 <= killed_at < 3
    start = load_file(init / "model.safetensors")
    assert (run / "start" / "preprocessor_config.json").is_file()
    shutil.rmtree(init)  # the run keeps its start model: --resume needs only the run
    assert main(["train", "grpo", "--resume", "--out", str(run)]) == 0
    (step_a, wa), (step_b, wb) = _final(ref), _final(run)
    assert step_a == step_b == 3 and wa.keys() == wb.keys()
    assert [k for k in wa if not torch.equal(wa[k], wb[k])] == []
    moved = {k for k in start if not torch.equal(start[k], wa[k])}
    assert any(k.startswith("visual.") for k in moved)  # the tower was trained by GRPO
    assert any(k.startswith("model.layers.") for k in moved)  # and the language model
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(r["format_ok"] > 0 for r in rows)  # completions decoded and were scored


def test_async_generator_decodes_qwen_vl_groups_joining_mid_flight(vl_policy):
    """The asynchronous generator role with a Qwen2.5-VL policy: a second group (another
    prompt length) joins the running batch between decode steps; every token's behaviour
    log-prob equals the update's log-prob of it (weights unchanged)."""
    from svgrl.rl.async_.generator import Generator, Work

    lm = vl_policy.lm
    g = grammar_for(lm.layout, lm.vocab_rows)
    gen = Generator(vl_policy, group_size=2, temperature=1.0, top_p=1.0, eos={lm.layout.eos},
                    pad_id=lm.layout.pad, grammar=g, seed=1)
    prompts = _prompts(lm)[:2]
    gen.add_work([Work(0, {}, "p", prompts[0].ids, prompts[0], 12)])
    for _ in range(3):
        assert gen.tick() == []
    gen.add_work([Work(1, {}, "p", prompts[1].ids, prompts[1], 12)])
    groups = {}
    while len(groups) < 2:
        groups.update({grp.gid: grp for grp in gen.tick()})
    comps = [c for gid in (0, 1) for c in groups[gid].completion_ids]
    behaviour = [lp for gid in (0, 1) for lp in groups[gid].logprobs]
    mb = build_micro([0, 1, 2, 3], [p.ids for p in prompts for _ in range(2)], comps,
                     lm.layout.pad, [0, 0, 1, 1], [p for p in prompts for _ in range(2)], g, 12)
    with torch.no_grad():
        logp, _ = completion_logprobs(vl_policy, mb)
    worst = max(float((logp[r, :len(lp)] - torch.tensor(lp)).abs().max())
                for r, lp in enumerate(behaviour))
    assert worst < 1e-5, worst


def test_a_vl_policy_from_an_sft_run_warns_when_grpo_renders_at_another_size(
        vl_policy, tabler_data, tmp_path):
    import warnings

    from svgrl.model.checkpoint import RunDir
    from svgrl.rl.config import GRPOConfig
    from svgrl.rl.trainer import open_grpo_run

    sft = RunDir(tmp_path / "sft")
    sft.open(kind="sft", config={"sft": {"image_size": 56}}, resume=False)
    sft.save_checkpoint(1, vl_policy.lm, {"step": 1})

    def cfg(out: str, size: int) -> GRPOConfig:
        return GRPOConfig(task="svg-image", data=tabler_data, init=str(sft.root),
                          out=str(tmp_path / out), image_size=size, threads=1)

    with pytest.warns(UserWarning, match="trained on 56 px images.*--image-size 56"):
        open_grpo_run(cfg("a", 64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, _, init, _ = open_grpo_run(cfg("b", 56))
    assert init == str(tmp_path / "b" / "start")  # the start model lives in the run
