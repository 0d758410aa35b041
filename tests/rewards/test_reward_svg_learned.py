"""The learned-similarity hook on tiny networks built here (no downloads, no torchvision)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from svgrl.errors import ModelLoadError  # noqa: E402
from svgrl.rewards.svg import SvgReward, SvgRewardConfig  # noqa: E402
from svgrl.rewards.svg_learned import LearnedPreset, LearnedSimilarity  # noqa: E402
from svgrl.svg.drawing import Drawing, Path  # noqa: E402
from svgrl.svg.render import render  # noqa: E402
from svgrl.tokens.codec import encode  # noqa: E402
from svgrl.tokens.layout import TokenLayout  # noqa: E402

TINY = LearnedPreset("embedding", 32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


class TinyEmbed(torch.nn.Module):
    """(B, 3, 32, 32) → (B, 8): a conv, a pool, a linear layer."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3, stride=2)
        self.fc = torch.nn.Linear(4 * 4 * 4, 8)

    def forward(self, x):
        h = torch.nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 4)
        return self.fc(h.flatten(1))


class TinyDistance(torch.nn.Module):
    """LPIPS-shaped: mean squared difference of conv features, one distance per pair."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, a, b):
        return (self.conv(a) - self.conv(b)).pow(2).mean(dim=(1, 2, 3))


def _drawing(x0: int, colour=(0, 0, 0)) -> Drawing:
    return Drawing(199, 199, (Path((("M", x0, 20), ("L", x0 + 120, 40), ("L", x0 + 30, 180),
                                     ("Z",)), colour),))


@pytest.fixture(scope="module")
def images():
    return [render(_drawing(20)), render(_drawing(60)), render(_drawing(20, (255, 0, 0)))]


def _script(module, path, *example):
    torch.jit.save(torch.jit.trace(module.eval(), example), str(path))
    return path


def test_embedding_module_from_torchscript(tmp_path, images):
    path = _script(TinyEmbed(), tmp_path / "embed.pt", torch.zeros(1, 3, 32, 32))
    sim = LearnedSimilarity(path, TINY)
    s = sim([images[0], images[1], images[2]], [images[0]] * 3, ["t"] * 3)
    assert s[0] == pytest.approx(1.0, abs=1e-5)
    assert s[1] < 1.0 - 1e-4 and s[2] < 1.0 - 1e-4
    # the cached target embedding gives the same numbers
    assert sim([images[1]], [images[0]], ["t"]) == pytest.approx(s[1:2], abs=1e-6)


def test_embedding_module_from_torch_export(tmp_path, images):
    batch = torch.export.Dim("batch", min=1, max=1024)
    ep = torch.export.export(TinyEmbed().eval(), (torch.zeros(2, 3, 32, 32),),
                             dynamic_shapes=({0: batch},))
    path = tmp_path / "embed.pt2"
    torch.export.save(ep, str(path))
    sim = LearnedSimilarity(path, TINY)
    ref = LearnedSimilarity(_script(TinyEmbed(), tmp_path / "e.pt", torch.zeros(1, 3, 32, 32)),
                            TINY)
    np.testing.assert_allclose(sim(images, [images[0]] * 3), ref(images, [images[0]] * 3),
                               atol=1e-5)


def test_distance_module_and_preset(tmp_path, images):
    x = torch.zeros(1, 3, 32, 32)
    path = _script(TinyDistance(), tmp_path / "dist.pt", x, x)
    sim = LearnedSimilarity(path, LearnedPreset("distance", 32, (0.5,) * 3, (0.5,) * 3))
    s = sim(images, [images[0]] * 3)
    assert s[0] == pytest.approx(1.0) and s[1] < 1.0 and s[2] < 1.0


def test_state_dict_needs_and_uses_a_factory(tmp_path, images):
    net = TinyEmbed()
    path = tmp_path / "embed_state.pt"
    torch.save(net.state_dict(), path)
    with pytest.raises(ModelLoadError, match="factory"):
        LearnedSimilarity(path, TINY)
    sim = LearnedSimilarity(path, TINY, factory=TinyEmbed)
    ref = LearnedSimilarity(_script(net, tmp_path / "e.pt", torch.zeros(1, 3, 32, 32)), TINY)
    np.testing.assert_allclose(sim(images, [images[1]] * 3), ref(images, [images[1]] * 3),
                               atol=1e-5)


def test_safetensors_state_dict(tmp_path, images):
    from safetensors.torch import save_file

    path = tmp_path / "embed.safetensors"
    save_file(TinyEmbed().state_dict(), str(path))
    sim = LearnedSimilarity(path, TINY, factory=TinyEmbed)
    assert sim([images[0]], [images[0]])[0] == pytest.approx(1.0, abs=1e-5)


def test_missing_or_wrong_files_say_what_to_provide(tmp_path):
    with pytest.raises(ModelLoadError, match="TorchScript"):
        LearnedSimilarity(tmp_path / "nope.pt", "clip")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError, match="state dict"):
        LearnedSimilarity(bad, "dino", factory=TinyEmbed)
    with pytest.raises(ModelLoadError, match="TorchScript"):
        SvgReward(SvgRewardConfig(workers=0, learned_path=str(tmp_path / "nope.pt")))
    pickled = tmp_path / "whole.pt"
    torch.save(TinyEmbed(), pickled)  # a whole pickled module: refused (unpickling runs code)
    with pytest.raises(ModelLoadError):
        LearnedSimilarity(pickled, TINY, factory=TinyEmbed)


def test_reward_uses_the_learned_part(tmp_path):
    path = _script(TinyEmbed(), tmp_path / "embed.pt", torch.zeros(1, 3, 32, 32))
    layout = TokenLayout()
    tgt = encode(_drawing(20), layout)
    comps = [tgt, encode(_drawing(60), layout)]
    cfg = SvgRewardConfig(workers=0, learned_path=str(path))
    r = SvgReward(cfg, learned=LearnedSimilarity(path, TINY))
    out = r(["p", "p"], ["", ""], completion_ids=comps, target=[tgt, tgt])
    assert out.parts["learned"][0] == pytest.approx(1.0, abs=1e-5)
    assert out.parts["learned"][1] < 1.0
    plain = SvgReward(SvgRewardConfig(workers=0))(["p", "p"], ["", ""], completion_ids=comps,
                                                  target=[tgt, tgt])
    assert plain.parts["learned"] == [None, None]
    # sim is the weighted mean over pixel, ssim, edge and learned (equal weights)
    parts = [out.parts[k][1] for k in ("pixel", "ssim", "edge", "learned")]
    assert out.parts["similarity"][1] == pytest.approx(sum(parts) / 4)
