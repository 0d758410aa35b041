"""GRPO on svg-image: SFT-format prompts with the vision prefix, grammar sampling, SVG reward."""

from __future__ import annotations

import torch

from svgrl.model.backbones import BackboneConfig
from svgrl.rl.config import GRPOConfig


def _cfg(data: str, out: str, backbone: str = "tiny", **kw) -> GRPOConfig:
    base = dict(task="svg-image", data=data, out=out, image_size=16, patch_size=8, steps=1,
                prompts_per_step=2, group_size=4, max_completion_length=40, minibatches=1,
                learning_rate=1e-2, eval_size=2, log_kl_to_start=False, threads=1,
                save_every=0, model=BackboneConfig(backbone=backbone, tiny_layers=1,
                                                   tiny_d_model=32, tiny_heads=1, seed=0))
    base.update(kw)
    return GRPOConfig(**base)


def _record_verified(monkeypatch) -> list:
    """Every batch the trainer verifies, appended to the returned list as it goes."""
    from svgrl.rl import trainer

    seen = []
    real_verify = trainer.verify

    def recording_verify(batch, reward, **kw):
        seen.append(batch)
        return real_verify(batch, reward, **kw)

    monkeypatch.setattr(trainer, "verify", recording_verify)
    return seen


def _fresh(cfg: GRPOConfig):
    from svgrl.rl.svg import load_svg_policy
    from svgrl.rl.tasks import load_task

    torch.manual_seed(cfg.seed)
    data = load_task(cfg)
    return load_svg_policy(cfg, data.layout)[0]


def test_svg_image_grpo_step_moves_every_parameter_and_decodes(tabler_data, tmp_path,
                                                               monkeypatch):
    from svgrl.rl import trainer
    from svgrl.tokens.codec import decode

    cfg = _cfg(tabler_data, str(tmp_path / "run"))
    start = {k: v.clone() for k, v in _fresh(cfg).state_dict().items()}
    again = _fresh(cfg).state_dict()
    assert all(torch.equal(start[k], again[k]) for k in start)  # the baseline is the start

    seen = _record_verified(monkeypatch)
    res = trainer.train(cfg)
    policy = res["model"]
    assert policy.vision is not None
    layout = policy.lm.layout

    # Every completion (eval before, the rollout, eval after) is a whole drawing that decodes.
    from svgrl.tokens.grammar import grammar_for

    g = grammar_for(layout, policy.lm.vocab_rows)
    rollout = [b for b in seen if len(b) == cfg.prompts_per_step * cfg.group_size]
    assert rollout and all(len(b.images) == len(b) for b in rollout)
    n = 0
    for b in seen:
        for ids, cut in zip(b.completion_ids, b.truncated, strict=True):
            assert not cut and ids[-1] == layout.eos
            g.check(ids, cfg.max_completion_length)
            assert decode(ids, layout).paths
            n += 1
        # The reward decoded every one too: the only failure left is a blank render (a
        # random model may draw outside the canvas or unfilled), never parse/decode.
        assert all(r in (None, "blank") for r in b.parts["reason"]), b.parts["reason"]
    assert n >= cfg.prompts_per_step * cfg.group_size + 2 * cfg.eval_size
    assert len(set(rollout[0].rewards)) > 1  # informative groups: an update happened

    # Every trainable parameter moved — the vision prefix's included.
    after = policy.state_dict()
    names = [k for k, p in policy.named_parameters() if p.requires_grad]
    assert any(k.startswith("vision.") for k in names)
    unchanged = [k for k in names if torch.equal(start[k], after[k])]
    assert not unchanged, unchanged


def test_svg_policy_prefix_follows_left_padding(tabler_data, tmp_path):
    """A left-padded image prompt gives the same last-position logits as the unpadded one
    run through `SvgLM.embed` (the SFT path)."""
    from svgrl.rl.policy import left_pad, positions
    from svgrl.rl.svg import SvgSetup
    from svgrl.rl.tasks import load_task

    cfg = _cfg(tabler_data, str(tmp_path / "x"))
    policy = _fresh(cfg).eval()
    data = load_task(cfg)
    from svgrl.rl.svg import model_rows

    rows = model_rows(data.train[:1], data.layout, policy.lm.layout)
    kw = SvgSetup(policy, "svg-image", data.layout, 512).generate_kwargs(rows)
    ids = kw["prompt_ids"][0]
    img = kw["images"][0][None]
    with torch.no_grad():
        ref = policy.lm_model(inputs_embeds=policy.lm.embed(torch.tensor([ids]), img)).logits
        x, m = left_pad([ids, ids + [5, 6, 7]], policy.lm.layout.pad)
        out = policy(x, attention_mask=m, position_ids=positions(m),
                     images=torch.cat([img, img])).logits
    torch.testing.assert_close(out[0, -1], ref[0, -1], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(out[0, -1], policy(torch.tensor([ids])).logits[0, -1])


def test_svg_image_resume_is_exact(tabler_data, tmp_path):
    """Stop after step 1, ``resume``: the step-2 weights (vision prefix included) equal an
    uninterrupted run's."""
    from svgrl.rl.trainer import train

    kw = dict(steps=2, save_every=1, eval_size=1, minibatches=2)
    train(_cfg(tabler_data, str(tmp_path / "ref"), **kw))
    train(_cfg(tabler_data, str(tmp_path / "cut"), **kw), stop_after=1)
    train(_cfg(tabler_data, str(tmp_path / "cut"), resume=True, **kw))

    def final(run: str) -> dict:
        from safetensors.torch import load_file

        m = tmp_path / run / "checkpoints" / "step-00000002" / "model"
        return {**load_file(m / "model.safetensors"),
                **{f"vision.{k}": v for k, v in load_file(m / "vision_prefix.safetensors")
                   .items()}}

    a, b = final("ref"), final("cut")
    assert any(k.startswith("vision.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_held_out_eval_is_sampled_reproducible_and_reports_reward_parts(tabler_data, tmp_path,
                                                                        monkeypatch):
    """`eval_samples` k: k grammar-sampled completions per held-out image, the same random
    stream on every call (so before/after compare like with like), the caller's RNG kept,
    similarity and efficiency reported apart; k = 0 is greedy, one per image."""
    from svgrl.rl import trainer
    from svgrl.rl.svg import SvgSetup, load_svg_policy, model_rows
    from svgrl.rl.tasks import load_task
    from svgrl.rl.verify import close_reward, make_reward

    cfg = _cfg(tabler_data, str(tmp_path / "run"), eval_size=3, eval_samples=3)
    torch.manual_seed(0)
    data = load_task(cfg)
    policy, tok = load_svg_policy(cfg, data.layout)
    svg = SvgSetup(policy, cfg.task, data.layout, cfg.max_prompt_length)
    rows = model_rows(data.eval, data.layout, svg.layout)
    reward = make_reward(cfg.task, thinking=False, l_max=40, l_cache=0, language_reward=0,
                         workers=0, layout=svg.layout)
    seen = _record_verified(monkeypatch)
    try:
        torch.manual_seed(123)
        rng = torch.random.get_rng_state()
        a = trainer.evaluate(policy, tok, cfg, rows, reward, 40, svg)
        assert torch.equal(torch.random.get_rng_state(), rng)  # training draws unaffected
        b = trainer.evaluate(policy, tok, cfg, rows, reward, 40, svg)
        greedy = trainer.evaluate(policy, tok, GRPOConfig(**{**cfg.__dict__, "eval_samples": 0}),
                                  rows, reward, 40, svg)
    finally:
        close_reward(reward)
    sa, sb, sg = seen
    assert len(sa) == 3 * len(rows) and sa.group == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert sa.completion_ids == sb.completion_ids and a == b
    # Sampled, not greedy: a random tiny model at T=1 does not repeat itself three times.
    assert any(len({tuple(c) for c in sa.completion_ids[3 * i: 3 * i + 3]}) > 1
               for i in range(len(rows)))
    assert len(sg) == len(rows) and greedy["samples"] == 0
    for key in ("reward", "similarity", "efficiency", "reward_sem"):
        assert isinstance(a[key], float), key
    assert a["samples"] == 3 and a["n"] == len(rows)
    assert abs(a["reward"] - sum(sa.rewards) / len(sa)) < 1e-9
    means = torch.tensor([sum(sa.rewards[3 * i: 3 * i + 3]) / 3 for i in range(len(rows))],
                         dtype=torch.float64)
    assert abs(a["reward_sem"] - float(means.std() / len(rows) ** 0.5)) < 1e-9
    assert a["row_rewards"] == [round(float(m), 6) for m in means]


def test_paired_change_reads_row_differences():
    import pytest

    from svgrl.errors import ConfigError
    from svgrl.rl.trainer import paired_change

    c = paired_change({"row_rewards": [0.1, 0.5, 0.9, 0.3]},
                      {"row_rewards": [0.2, 0.5, 1.0, 0.1]})
    d = torch.tensor([0.1, 0.0, 0.1, -0.2], dtype=torch.float64)
    assert abs(c["delta"] - float(d.mean())) < 1e-12
    assert abs(c["delta_sem"] - float(d.std() / 2)) < 1e-12
    assert (c["rows_better"], c["rows_worse"], c["n"]) == (2, 1, 4)
    with pytest.raises(ConfigError):
        paired_change({"row_rewards": [0.1]}, {"row_rewards": [0.1, 0.2]})


def test_grammar_logprobs_are_over_the_tokens_the_sampler_allowed(tabler_data, tmp_path):
    """With the rollout's grammar, log-probs and entropy are those of the softmax over the
    allowed tokens at each step (hand computation from the full logits); without it, of the
    whole vocabulary. A completion the grammar rejects falls back to the whole vocabulary
    from the rejected token on."""
    import numpy as np

    from svgrl.rl.policy import build_micro, completion_logprobs, forward_logits
    from svgrl.rl.svg import SvgPrompter, model_rows
    from svgrl.rl.tasks import load_task
    from svgrl.tokens.grammar import grammar_for

    cfg = _cfg(tabler_data, str(tmp_path / "r"))
    torch.manual_seed(0)
    data = load_task(cfg)
    policy = _fresh(cfg).eval()
    lm = policy.lm
    g = grammar_for(lm.layout, lm.vocab_rows)
    row = model_rows(data.train[:1], data.layout, lm.layout)[0]
    ids, img = SvgPrompter(lm, cfg.task, data.layout, 512)(row)
    rng = np.random.default_rng(0)
    budget = 24
    comps = []
    for _ in range(2):  # random walks through the grammar: valid completions
        st, comp = g.start(budget), []
        while not st.done:
            t = int(rng.choice(np.flatnonzero(st.mask())))
            comp.append(t)
            st.advance(t)
        comps.append(comp)
    bad = comps[0][:3] + [lm.layout.eos] + comps[0][3:6]  # </svg> too early: rejected at 3
    comps.append(bad)
    n = len(comps)
    args = (list(range(n)), [ids] * n, comps, lm.layout.pad, [0] * n, [img] * n)
    with torch.no_grad():
        masked, ent = completion_logprobs(policy, build_micro(*args, g, budget), with_entropy=True)
        mb = build_micro(*args)
        full, ent_full = completion_logprobs(policy, mb, with_entropy=True)
        logits = forward_logits(policy, mb).float()
    rejected = set()
    for r, comp in enumerate(comps):
        st, ok = g.start(budget), True
        for t, tok in enumerate(comp):
            ok = ok and not st.done and st.allows(tok)  # rejected once: whole vocab after
            allowed = torch.from_numpy(st.mask().copy()) if ok else torch.ones(
                logits.shape[-1], dtype=torch.bool)
            lp = torch.log_softmax(logits[r, t][allowed], -1)
            want = lp[int(allowed[:tok].sum())]
            assert abs(float(masked[r, t]) - float(want)) < 1e-4, (r, t)
            assert abs(float(ent[r, t]) + float((lp.exp() * lp).sum())) < 1e-4
            if ok:
                st.advance(tok)
                assert float(masked[r, t]) >= float(full[r, t]) - 1e-6
            else:
                rejected.add(r)
                assert abs(float(masked[r, t]) - float(full[r, t])) < 1e-5
    assert rejected == {2}
    assert torch.isfinite(ent).all() and (ent <= ent_full + 1e-5).all()
