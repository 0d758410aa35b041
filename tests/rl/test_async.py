"""Asynchronous GRPO on a real local Ray (one session for the module): the run format, the
off-policy bound, behaviour log-probs in the loss, and a generator killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import torch
from helpers.async_grpo import async_cfg, consumed_exactly_once

from svgrl.errors import ConfigError


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    tmp = tmp_path_factory.mktemp("ray")
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(tmp), log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_async_run_writes_the_run_format_resumes_and_holds_the_bound(local_ray, tabler_data,
                                                                     tmp_path):
    from svgrl.model.checkpoint import model_folder, read_metrics
    from svgrl.model.folder import load_model_folder
    from svgrl.rl.async_.controller import train_async
    from svgrl.rl.svg import SvgPolicy

    run = tmp_path / "run"
    cfg = async_cfg(tabler_data, str(run), steps=3, max_staleness=1, save_every=1)
    res = train_async(cfg, stop_after=2)
    assert res["steps"] == 2
    # The trainer and each generator are processes of their own; the trainer wrote the run.
    pids = {res["ledger"]["trainer_pid"], *res["ledger"]["generator_pids"].values()}
    assert os.getpid() not in pids and len(pids) == 1 + cfg.generators
    consumed_exactly_once(res["ledger"], 2, cfg.prompts_per_step)
    # Resume to the end: the run format is the synchronous trainer's.
    cfg2 = async_cfg(tabler_data, str(run), steps=3, max_staleness=1, save_every=1, resume=True)
    res2 = train_async(cfg2)
    assert res2["steps"] == 3 and res2["after"] is not None
    assert res2["ledger"]["steps"] and len(res2["ledger"]["steps"]) == 1  # only step 3 ran
    metrics = read_metrics(run)
    assert [m["step"] for m in metrics] == [1, 2, 3]
    for m in metrics:  # the off-policy bound, measured over every token of every update
        assert 0 <= m["staleness_max"] <= cfg.max_staleness
        assert m["version"] == m["step"]
    saved = SvgPolicy(load_model_folder(model_folder(str(run))[0])).state_dict()  # generate's
    got = res2["model"].state_dict()
    assert saved.keys() == got.keys() and all(torch.equal(v, got[k]) for k, v in saved.items())


@pytest.mark.slow
def test_kill_9_of_a_generator_restarts_it_and_counts_stay_exact(local_ray, tabler_data,
                                                                 tmp_path):
    from svgrl.rl.async_.controller import train_async

    killed = []

    def kill_one(step, pool, ledger):
        if step == 1:
            pid = pool.pids()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    cfg = async_cfg(tabler_data, str(tmp_path / "run"), steps=3, generators=1)
    res = train_async(cfg, on_step=kill_one)
    assert killed and res["steps"] == 3
    assert res["ledger"]["restarts"] >= 1
    consumed_exactly_once(res["ledger"], 3, cfg.prompts_per_step)


@pytest.mark.slow
def test_kill_9_of_the_trainer_ends_the_run_with_a_typed_error_and_nothing_left(
        local_ray, tabler_data, tmp_path):
    from svgrl.errors import RoleDiedError
    from svgrl.rl.async_.controller import train_async

    seen = {}

    def kill_trainer(step, pool, ledger):
        if step == 1:
            seen.update(ledger.get("generator_pids") or pool.pids(),
                        trainer=ledger["trainer_pid"])
            os.kill(ledger["trainer_pid"], signal.SIGKILL)

    cfg = async_cfg(tabler_data, str(tmp_path / "run"), steps=2, generators=1)
    t0 = time.monotonic()
    with pytest.raises(RoleDiedError, match="--resume"):
        train_async(cfg, on_step=kill_trainer)
    assert "trainer" in seen and time.monotonic() - t0 < 300
    for pid in seen.values():  # the controller ended every actor it had started
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def _learner_batch(tabler_data, tmp_path, shift: float, versions: int = 0):
    """A Learner on a fresh policy and a batch sampled by it, behaviour log-probs shifted."""
    from svgrl.model.sampler import decode
    from svgrl.model.sampling import Sampling
    from svgrl.rl.async_.controller import build_policy
    from svgrl.rl.async_.trainer import Learner
    from svgrl.rl.rollout import Batch

    cfg = async_cfg(tabler_data, str(tmp_path / "run"))
    torch.manual_seed(0)
    model, tok, svg, data = build_policy(cfg, None)
    rows = data.train[:2]
    built = [svg.prompter(r) for r in rows]
    ids = [b[0] for b in built]
    imgs = torch.stack([b[1] for b in built])
    done = decode(model, ids, n=2, max_new_tokens=12, sampling=Sampling(1.0, 1.0, 0),
                  eos={svg.layout.eos}, pad_id=tok.pad_token_id, grammar=svg.grammar,
                  images=imgs, embed=model.embed, logprobs=True)
    n = len(done)
    batch = Batch(["p"] * n, [rows[i // 2] for i in range(n)], [ids[i // 2] for i in range(n)],
                  [f.tokens for f in done], [""] * n, [f.truncated for f in done],
                  [i // 2 for i in range(n)], rewards=[0.0, 1.0, 1.0, 0.0],
                  images=[imgs[i // 2] for i in range(n)],
                  logprobs=[[x + shift for x in f.logprobs] for f in done],
                  versions=[[versions] * len(f.tokens) for f in done])
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    return Learner(model, opt, cfg, pad_id=tok.pad_token_id, grammar=svg.grammar,
                   version=cfg.max_staleness), batch


def test_behaviour_logprobs_and_versions_reach_the_loss(tabler_data, tmp_path):
    # Unshifted behaviour log-probs are the policy's own (the sampler's masked softmax):
    # ratio 1. Shifted down by 0.5 nats, every token's ratio is e^0.5 — the loss used them.
    learner, batch = _learner_batch(tabler_data, tmp_path, 0.0)
    m, _ = learner.step(batch, 12)
    assert m["ratio_mean"] == pytest.approx(1.0, abs=1e-4)
    assert m["staleness_max"] == learner.cfg.max_staleness  # versions 0, trainer at K
    learner, batch = _learner_batch(tabler_data, tmp_path, -0.5)
    m, _ = learner.step(batch, 12)
    assert m["ratio_mean"] == pytest.approx(float(torch.tensor(0.5).exp()), rel=1e-3)


def test_a_token_older_than_k_versions_never_reaches_an_update(tabler_data, tmp_path):
    learner, batch = _learner_batch(tabler_data, tmp_path, 0.0)
    learner.version = learner.cfg.max_staleness + 1  # version-0 tokens are K+1 behind
    before = {k: v.clone() for k, v in learner.model.state_dict().items()}
    with pytest.raises(ConfigError, match="max-staleness"):
        learner.step(batch, 12)
    assert all(torch.equal(v, learner.model.state_dict()[k]) for k, v in before.items())


def test_simulator_against_hand_computed_steps():
    from svgrl.rl.async_.simulate import Costs, simulate

    # 16 samples × 10 tokens at 10 ms = 1.6 s generate, 0.16 s verify, 1 s update.
    c = Costs(per_token=0.01, per_sample=0.01, per_update=1.0)
    sim = simulate(c, samples=16, tokens=10, cores=4)
    assert sim["sync_samples_per_s"] == pytest.approx(16 / 2.76)
    assert sim["sync_generator_idle"] == pytest.approx(1.16 / 2.76)
    # One generator, cores to spare: the update (1 s) hides behind generation (1.76 s).
    assert sim["async_samples_per_s"] == pytest.approx(16 / 1.76)
    assert sim["async_generator_idle"] == 0.0
    # Two generators and the trainer share 2 cores (2/3 each): the batch (1.76 CPU-s over
    # 2 × 2/3 core) is ready after 1.32 s, when the update has done 0.88 of its 1 CPU-s; the
    # trainer then runs alone at full speed for the last 0.12 s while the generators wait.
    two = simulate(c, samples=16, tokens=10, generators=2, cores=2)
    assert two["async_samples_per_s"] == pytest.approx(16 / 1.44)
    assert two["async_generator_idle"] == pytest.approx(1 - 1.32 / 1.44)
    # One core: nothing overlaps, the asynchronous step is the synchronous one.
    one = simulate(c, samples=16, tokens=10, cores=1)
    assert one["async_samples_per_s"] == pytest.approx(one["sync_samples_per_s"])
    # Two trainers halve the update: 0.5 s each at 2/3 core alongside one generator.
    assert simulate(c, samples=16, tokens=10, trainers=2, cores=2)["async_samples_per_s"] \
        == pytest.approx(16 / (0.75 + (1.76 - 0.5) / 1))
    # A shared machine, 16 other runnable processes: two busy processes of the job each run
    # at 17/18 of the speed one had when the costs were measured.
    busy = simulate(c, samples=16, tokens=10, cores=2, background=16)
    assert busy["async_samples_per_s"] == pytest.approx(16 / (18 / 17 + 0.76))
    # The load halves after the costs were measured: every stage runs faster by the ratio
    # of the shares, 2/8 of a core now against 2/17 then.
    lighter = simulate(c, samples=16, tokens=10, cores=2, background=7,
                       calibration_background=16)
    assert lighter["sync_samples_per_s"] == pytest.approx(16 / (2.76 * (2 / 17) / (2 / 8)))
    with pytest.raises(ValueError, match="positive"):
        simulate(c, samples=16, tokens=10, generators=0)
    # A measured speed curve instead of sharing: two busy processes run at 0.8 of one alone.
    # The update takes 1 / 0.8 = 1.25 s, the generator does 1.0 CPU-s of the 1.76 in it and
    # the remaining 0.76 alone at full speed.
    curve = simulate(c, samples=16, tokens=10, speed=[1.0, 0.8, 0.5], calibration_speed=1.0)
    assert curve["async_samples_per_s"] == pytest.approx(16 / (1.25 + 0.76))
    assert curve["sync_samples_per_s"] == pytest.approx(16 / 2.76)
    # Calibrated when one process ran twice as fast as now: every stage takes twice as long.
    slow = simulate(c, samples=16, tokens=10, speed=[1.0, 0.8], calibration_speed=2.0)
    assert slow["sync_samples_per_s"] == pytest.approx(16 / 5.52)
    assert slow["async_samples_per_s"] == pytest.approx(16 / (2.5 + 1.52))
    with pytest.raises(ValueError, match="busy processes"):
        simulate(c, samples=16, tokens=10, generators=2, speed=[1.0, 0.8])


def test_speed_probe_measures_each_process_count():
    from svgrl.errors import ConfigError
    from svgrl.rl.async_.speed import measure_speed

    speeds = measure_speed(2, seconds=0.2)
    assert len(speeds) == 2 and all(s > 0 for s in speeds)
    with pytest.raises(ConfigError, match="max_processes"):
        measure_speed(0)


def test_the_synchronous_train_refuses_async_configs(tabler_data, tmp_path):
    from svgrl.rl.trainer import train

    with pytest.raises(ConfigError, match="train_async"):
        train(async_cfg(tabler_data, str(tmp_path / "run")))


def _generator(tabler_data, tmp_path, k: int):
    from svgrl.rl.async_.controller import build_policy
    from svgrl.rl.async_.generator import Generator, Work

    cfg = async_cfg(tabler_data, str(tmp_path / "run"))
    torch.manual_seed(0)
    model, tok, svg, data = build_policy(cfg, None)
    gen = Generator(model, group_size=2, temperature=1.0, top_p=1.0, eos={svg.layout.eos},
                    pad_id=tok.pad_token_id, grammar=svg.grammar, embed=model.embed,
                    max_staleness=k)
    ids, img = svg.prompter(data.train[0])
    gen.add_work([Work(7, data.train[0], "p", list(ids), img, 24)])
    new = {n: p.detach() + 0.01 for n, p in model.state_dict().items()}
    return gen, new


def test_weights_swap_between_decode_steps_and_sequences_in_flight_continue(tabler_data,
                                                                              tmp_path):
    gen, new = _generator(tabler_data, tmp_path, k=2)
    for _ in range(5):
        assert gen.tick() == []
    gen.set_weights(new, 1)
    groups = []
    while not groups:
        groups = gen.tick()
    (g,) = groups
    assert g.gid == 7 and len(g.completion_ids) == 2
    for toks, lps, vs in zip(g.completion_ids, g.logprobs, g.versions, strict=True):
        assert len(toks) == len(lps) == len(vs)
        assert vs[:5] == [0] * 5 and vs[5:] and set(vs[5:]) == {1}  # one sequence, two policies
    assert gen.counters["weight_swaps"] == 1 and gen.counters["restarted_stale"] == 0


def test_a_group_beyond_the_bound_is_sampled_again_with_the_new_weights(tabler_data, tmp_path):
    gen, new = _generator(tabler_data, tmp_path, k=0)
    for _ in range(3):
        gen.tick()
    gen.set_weights(new, 1)  # K = 0: tokens of version 0 may no longer reach an update
    groups = []
    while not groups:
        groups = gen.tick()
    assert gen.counters["restarted_stale"] == 1
    assert all(set(vs) == {1} for vs in groups[0].versions)
