"""GRPO trainer: roles, filtering, collation forward pass, tasks, config — on a tiny model."""

from __future__ import annotations

import copy

import pytest
import torch

from svgrl.errors import ConfigError
from svgrl.model.backbones import BackboneConfig, load_backbone
from svgrl.rl.config import GRPOConfig
from svgrl.rl.curriculum import classify, difficulty_filter
from svgrl.rl.policy import build_micro, completion_logprobs
from svgrl.rl.rollout import Batch, format_prompt, generate
from svgrl.rl.tasks import PromptSampler, arithmetic_problems, load_task, math_task
from svgrl.rl.trainer import train
from svgrl.rl.update import plan_update, update

TINY64 = BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=64, tiny_heads=2)


@pytest.fixture(scope="module")
def tiny():
    return load_backbone(BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=64,
                                        tiny_heads=2, seed=3))


def id_reward(prompts, completions, **cols):
    """Varies across samples of a random model: mean token id of the completion."""
    return [sum(i) / len(i) / 260 for i in cols["completion_ids"]]


def _batch(rewards, group, prompt_len=3, comp_lens=None):
    n = len(rewards)
    comp_lens = comp_lens or [2 + (i % 3) for i in range(n)]
    return Batch(prompts=["p"] * n, rows=[{}] * n,
                 prompt_ids=[[65 + g] * prompt_len for g in group],
                 completion_ids=[[97 + (i % 5)] * k for i, k in enumerate(comp_lens)],
                 completions=[""] * n, truncated=[False] * n, group=list(group),
                 rewards=list(rewards))


def test_equal_reward_groups_are_dropped_before_batching():
    b = _batch([1, 1, 0, 1, 0.5, 0.5], [0, 0, 1, 1, 2, 2])
    plan = plan_update(b)
    assert plan.batch.group == [1, 1]
    assert plan.groups_total == 3 and plan.groups_kept == 1
    assert plan.advantages.tolist() == pytest.approx([-0.5, 0.5])
    keep_all = plan_update(b, keep_equal_groups=True)
    assert len(keep_all.batch) == 6


def test_grpo_advantage_divides_by_group_std():
    plan = plan_update(_batch([0, 1, 1, 1], [0, 0, 0, 0]), advantage="grpo")
    a = torch.tensor([0.0, 1, 1, 1])
    want = (a - a.mean()) / (a.std() + 1e-6)
    assert plan.advantages.tolist() == pytest.approx(want.tolist(), rel=1e-5)


def test_shared_prompt_forward_matches_separate_forwards_and_gradients(tiny):
    model = copy.deepcopy(tiny[0]).eval()
    prompts = [[5, 6, 7, 8, 9], [5, 6, 7, 8, 9], [10, 11], [5, 6, 7, 8, 9]]
    comps = [[20, 21], [22, 23, 24, 25], [26, 27, 28], [29]]
    mb = build_micro([0, 1, 2, 3], prompts, comps, pad_id=256)
    assert mb.prompt_ids.shape[0] == 2 and mb.row.tolist() == [0, 0, 1, 0]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the current cache API, no deprecation
        logp, _ = completion_logprobs(model, mb)
    (logp * mb.mask).sum().backward()
    shared = {k: p.grad.clone() for k, p in model.named_parameters()}
    model.zero_grad()
    total = 0
    for r in range(4):
        seq = torch.tensor([prompts[r] + comps[r]])
        lp = torch.log_softmax(model(input_ids=seq).logits[0, :-1], -1)
        want = lp[len(prompts[r]) - 1:].gather(1, torch.tensor(comps[r]).unsqueeze(1)).squeeze(1)
        assert torch.allclose(logp[r, : len(comps[r])].detach(), want.detach(), atol=1e-5)
        assert mb.mask[r].sum() == len(comps[r])
        total = total + want.sum()
    total.backward()
    for k, p in model.named_parameters():
        assert torch.allclose(shared[k], p.grad, atol=1e-5), k


def test_update_with_only_equal_groups_leaves_model_untouched(tiny):
    model, tok = copy.deepcopy(tiny[0]), tiny[1]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    plan = plan_update(_batch([1, 1, 0, 0], [0, 0, 1, 1]))
    cfg = GRPOConfig(task="math", token_budget=256, max_prompt_length=8,
                     max_completion_length=8, minibatches=1)
    assert update(model, opt, plan, cfg, pad_id=tok.pad_token_id, l_max=8, step_seed=0) == {}
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("minibatches", [1, 2])
def test_update_moves_probability_towards_better_completions(tiny, minibatches):
    model, tok = copy.deepcopy(tiny[0]), tiny[1]
    b = _batch([1.0, 0.0, 1.0, 0.0], [0, 0, 1, 1], comp_lens=[3, 3, 3, 3])
    b.completion_ids = [[100, 101, 102], [200, 201, 202], [100, 101, 102], [200, 201, 202]]
    cfg = GRPOConfig(task="math", token_budget=64, max_prompt_length=8,
                     max_completion_length=8, minibatches=minibatches, learning_rate=1e-2)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    mb = build_micro([0, 1], b.prompt_ids, b.completion_ids, tok.pad_token_id)

    def gap():
        with torch.no_grad():
            lp, _ = completion_logprobs(model.eval(), mb)
        return float(lp[0].sum() - lp[1].sum())

    g0 = gap()
    m = update(model, opt, plan_update(b), cfg, pad_id=tok.pad_token_id, l_max=8, step_seed=1)
    assert gap() > g0
    assert 0.0 <= m["clip_frac"] <= 1.0 and m["entropy"] > 0


def test_smoke_run_changes_every_parameter_and_writes_run_folder(tmp_path):
    cfg = GRPOConfig(task="math", model=TINY64,
                     out=str(tmp_path / "run"), steps=1, prompts_per_step=2, group_size=4,
                     max_completion_length=6, eval_size=2, train_size=4, minibatches=1,
                     learning_rate=1e-2, token_budget=256, max_prompt_length=128, threads=1)
    init, _ = load_backbone(BackboneConfig(backbone="tiny", tiny_layers=1, tiny_d_model=64,
                                           tiny_heads=2, seed=0))
    res = train(cfg, reward_fn=id_reward)
    after = res["model"].state_dict()
    unchanged = [k for k, v in init.state_dict().items() if torch.equal(v, after[k])]
    assert unchanged == []
    run = tmp_path / "run"
    for name in ("run.json", "latest.json", "metrics.jsonl", "eval.json", "curves.png",
                 "checkpoints/step-00000001/model/config.json",
                 "checkpoints/step-00000001/model/model.safetensors",
                 "checkpoints/step-00000001/trainer_state.json",
                 "checkpoints/step-00000001/trainer_state.safetensors"):
        assert (run / name).is_file(), name
    assert (run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert any(p.name.startswith("events") for p in (run / "tb").iterdir())
    with pytest.raises(ConfigError, match="--resume"):
        train(cfg, reward_fn=id_reward)


def test_learning_rate_default_follows_the_task(tmp_path):
    assert GRPOConfig(task="math").learning_rate == 1e-6
    assert GRPOConfig(task="svg-image", data=str(tmp_path)).learning_rate == 1e-4
    assert GRPOConfig(task="math", learning_rate=3e-5).learning_rate == 3e-5


def test_a_step_with_every_group_filtered_warns_and_eval_reaches_tensorboard(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = GRPOConfig(task="math", model=TINY64, out=str(tmp_path / "run"), steps=1,
                     prompts_per_step=2, group_size=2, max_completion_length=4, eval_size=2,
                     train_size=4, minibatches=1, token_budget=256, max_prompt_length=128,
                     threads=1, log_kl_to_start=False)
    train(cfg, reward_fn=lambda prompts, completions, **kw: [0.0] * len(completions))
    captured = capsys.readouterr()
    out = captured.out
    # the rollout and the evaluations show a bar over their completions (on stderr)
    for bar in ("eval before", "step 1/1", "eval after"):
        assert bar in captured.err, (bar, captured.err)
    assert "4/4 completions" in captured.err  # the step's group: 2 prompts × 2
    assert "made no update" in out and "format_ok" in out
    assert "collation:" not in out  # the padding count is in the step line
    tb = EventAccumulator(str(tmp_path / "run" / "tb"))
    tb.Reload()
    assert {"eval/reward", "eval/reward_sem", "reward"} <= set(tb.Tags()["scalars"])
    assert [e.step for e in tb.Scalars("eval/reward")] == [0, 1]


def test_generate_groups_and_eos(tiny):
    model, tok = tiny
    torch.manual_seed(0)
    prompts = [format_prompt(tok, "hi"), format_prompt(tok, "a longer prompt")]
    b = generate(model, tok, prompts, [{"prompt": "hi"}, {"prompt": "x"}], group_size=3,
                 max_new_tokens=5, generation_batch=4)
    assert b.group == [0, 0, 0, 1, 1, 1] and len(b) == 6
    for ids, cut in zip(b.completion_ids, b.truncated, strict=True):
        assert 1 <= len(ids) <= 5
        assert cut == (tok.eos_token_id not in ids)
    assert b.prompt_ids[0] == tok(prompts[0], add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("sampler", ["svgrl", "hf"])
def test_rollout_reports_progress_over_every_completion(tiny, sampler):
    model, tok = tiny
    torch.manual_seed(0)
    calls: list[tuple[int, int]] = []
    b = generate(model, tok, [format_prompt(tok, "hi"), format_prompt(tok, "x")],
                 [{}, {}], group_size=3, max_new_tokens=6, generation_batch=3,
                 sampler=sampler, progress=lambda budget, done: calls.append((budget, done)))
    # the budget (6 completions × 6 tokens) is spent exactly, every completion reported once
    assert sum(c[0] for c in calls) == 6 * 6 and sum(c[1] for c in calls) == len(b) == 6
    if sampler == "svgrl":  # a call per decode step (the bar moves before any row ends),
        # in two chunks of one prompt × 3, each as long as its longest completion
        chunks = (b.completion_ids[:3], b.completion_ids[3:])
        assert len(calls) == sum(max(len(c) for c in chunk) for chunk in chunks)


def test_thinking_template_and_prefix(tiny):
    _, tok = tiny
    p = format_prompt(tok, "2+2?", system="sys", prefix="<think>\n")
    assert p.endswith("<|im_start|>assistant\n<think>\n") and "sys" in p
    assert format_prompt(tok, "q", chat_template=False) == "q\n"


def test_math_problems_are_deterministic_and_held_out_disjoint():
    a, b = math_task(50, 20, seed=1), math_task(50, 20, seed=1)
    assert a.train == b.train and a.eval == b.eval
    assert not {r["prompt"] for r in a.train} & {r["prompt"] for r in a.eval}
    for r in a.train:
        assert int(r["answer"]) >= 0
    assert arithmetic_problems(5, seed=2) != arithmetic_problems(5, seed=3)


def test_one_shot_repeats_one_example_to_the_batch():
    cfg = GRPOConfig(task="math", one_shot=True, one_shot_index=3, train_size=10)
    data = load_task(cfg)
    assert len(data.train) == 1
    s = PromptSampler(data.train, seed=0)
    assert s.take(8) == [data.train[0]] * 8


def test_prompt_sampler_resumes_exactly():
    rows = [{"i": i} for i in range(7)]
    a = PromptSampler(rows, seed=5)
    first = a.take(10)
    b = PromptSampler(rows, seed=5, **a.state())
    assert a.take(9) == b.take(9)
    assert sorted(r["i"] for r in first[:7]) == list(range(7))


@pytest.mark.parametrize("answers,solved,gold,verdict", [
    (["4", "4", "4", "4"], [True] * 4, "4", "always"),
    (["1", "2", None, "3"], [False] * 4, "4", "never"),
    (["5", "5", "5", "4"], [False, False, False, True], "4", "majority_wrong"),
    (["5", "6", "4", "4"], [False, False, True, True], "4", "keep"),
])
def test_difficulty_classes(answers, solved, gold, verdict):
    assert classify(answers, solved, gold) == verdict


def test_difficulty_filter_on_scored_batch():
    rows = [{"prompt": "a", "answer": "1", "task": "math"},
            {"prompt": "b", "answer": "2", "task": "math"}]
    b = _batch([0.1, 1.0, 0.1, 0.1], [0, 0, 1, 1])
    b.rows = [rows[g] for g in b.group]
    b.completions = ["\\boxed{3}", "\\boxed{1}", "\\boxed{9}", "\\boxed{8}"]
    b.parts = {"correct": [0.0, 1.0, 0.0, 0.0]}
    kept, rep = difficulty_filter(rows, b)
    assert kept == [rows[0]] and rep.never_solved == 1 and rep.kept == 1


@pytest.mark.parametrize("kwargs,match", [
    ({"group_size": 1}, "group_size"),
    ({"token_budget": 100}, "token_budget"),
    ({"length_stages": ("5:64:8",)}, "step 0"),
    ({"length_stages": ("0:x:8",)}, "STEP:LMAX:PROMPTS"),
    ({"task": "svg-image"}, "--data"),
    ({"epsilon_low": 1.5}, "ε_low"),
    ({"prompts_per_step": 1, "group_size": 2, "minibatches": 3}, "minibatches"),
])
def test_config_errors_say_how_to_fix(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        GRPOConfig(**kwargs)


def test_length_curriculum_stages():
    cfg = GRPOConfig(length_stages=("0:64:8", "10:96:4", "20:128:2"), token_budget=1024)
    assert cfg.stage_at(0) == (64, 8) and cfg.stage_at(9) == (64, 8)
    assert cfg.stage_at(10) == (96, 4) and cfg.stage_at(99) == (128, 2)


def test_shared_prefix_generation_equals_plain_generation(tiny):
    model, tok = tiny
    prompts = [format_prompt(tok, "hi"), format_prompt(tok, "a longer prompt here")]
    rows = [{"prompt": "hi"}, {"prompt": "x"}]
    kw = dict(group_size=2, max_new_tokens=6, generation_batch=4, sampler="hf")
    a = generate(model, tok, prompts, rows, do_sample=False, share_prefix=True, **kw)
    b = generate(model, tok, prompts, rows, do_sample=False, share_prefix=False, **kw)
    assert a.completion_ids == b.completion_ids
    torch.manual_seed(7)
    c = generate(model, tok, prompts, rows, share_prefix=True, **kw)
    torch.manual_seed(7)
    d = generate(model, tok, prompts, rows, share_prefix=False, **kw)
    assert c.completion_ids == d.completion_ids


def test_lean_sampler_matches_hf_generate_greedy(tiny):
    model, tok = tiny
    prompts = [format_prompt(tok, "hi"), format_prompt(tok, "a longer prompt here"),
               format_prompt(tok, "third")]
    rows = [{"prompt": p} for p in prompts]
    kw = dict(group_size=3, max_new_tokens=7, generation_batch=9, do_sample=False)
    a = generate(model, tok, prompts, rows, sampler="svgrl", **kw)
    b = generate(model, tok, prompts, rows, sampler="hf", **kw)
    assert a.completion_ids == b.completion_ids and a.truncated == b.truncated


def test_init_accepts_model_folders_and_refuses_non_runs(tmp_path):
    from svgrl.errors import ModelLoadError
    from svgrl.model.checkpoint import model_folder

    (tmp_path / "m").mkdir(parents=True)
    (tmp_path / "m" / "config.json").write_text("{}")
    assert model_folder(str(tmp_path / "m")) == (tmp_path / "m", None)
    with pytest.raises(ModelLoadError, match="not an svgrl run folder"):
        model_folder(str(tmp_path))


def test_svg_task_options_are_checked(tmp_path):
    from svgrl.errors import SvgrlError

    with pytest.raises(ConfigError, match="difficulty-filter"):
        GRPOConfig(task="svg-image", data=str(tmp_path), difficulty_filter=True)
    with pytest.raises(ConfigError, match="sampler svgrl"):
        GRPOConfig(task="svg-text", data=str(tmp_path), sampler="hf")
    with pytest.raises(ConfigError, match="--data"):
        GRPOConfig(task="svg-image")
    cfg = GRPOConfig(task="svg-text", data=str(tmp_path), out=str(tmp_path / "o"))
    with pytest.raises(SvgrlError):  # an empty folder is not a built dataset
        train(cfg)


def test_difficulty_filter_runs_before_training_and_is_saved(tmp_path):
    import json

    cfg = GRPOConfig(task="math", model=TINY64,
                     out=str(tmp_path / "run"), steps=1, prompts_per_step=2, group_size=2,
                     max_completion_length=4, eval_size=1, train_size=12, minibatches=1,
                     token_budget=256, max_prompt_length=128, threads=1,
                     difficulty_filter=True, filter_k=4, filter_pool=12, log_kl_to_start=False)
    torch.manual_seed(0)
    train(cfg, reward_fn=id_reward)
    kept = json.loads((tmp_path / "run" / "train_rows.json").read_text())
    pool = {r["prompt"] for r in load_task(cfg).train[:12]}
    assert 0 < len(kept) < 12 and {r["prompt"] for r in kept} <= pool


def test_grpo_config_composes_backbone_and_reward_configs_from_the_cli():
    from svgrl.cli import build_parser
    from svgrl.config import dataclass_from_args, from_dict, given_args, to_dict

    ns = build_parser().parse_args(
        ["train", "grpo", "--backbone", "tiny", "--tiny-d-model", "96", "--seed", "7",
         "--format-reward", "0.2", "--language-reward", "0", "--svg-ssim-weight", "0",
         "--svg-efficiency-reward", "0.05", "--svg-timeout-s", "9"])
    cfg = dataclass_from_args(GRPOConfig, ns)
    assert (cfg.model.backbone, cfg.model.tiny_d_model, cfg.seed) == ("tiny", 96, 7)
    assert (cfg.reward.format_reward, cfg.reward.language_reward) == (0.2, 0.0)
    assert (cfg.svg_reward.ssim_weight, cfg.svg_reward.efficiency_reward,
            cfg.svg_reward.timeout_s) == (0.0, 0.05, 9.0)
    assert "model.tiny_d_model" in given_args(ns) and "steps" not in given_args(ns)
    # One default per field: the backbone's own (GRPO's default backbone is SmolLM2).
    default = GRPOConfig()
    assert default.model.tiny_d_model == BackboneConfig().tiny_d_model
    assert default.model.backbone == "smollm2-135m"
    assert from_dict(GRPOConfig, to_dict(cfg)) == cfg
