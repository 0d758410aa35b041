"""Learned metrics on small random networks the tests build: DINOv2 and CLIP folders as
transformers saves them, LPIPS heads + a torchvision-layout AlexNet state dict."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from svgrl.bench.learned import Clip, Dino, Lpips, frechet_distance, lpips_net
from svgrl.errors import ConfigError, ModelLoadError


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers import models as tm
    from transformers import (
        CLIPConfig,
        CLIPModel,
        Dinov2Config,
        Dinov2Model,
        PreTrainedTokenizerFast,
    )

    root = tmp_path_factory.mktemp("learned")
    torch.manual_seed(0)
    Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=64, image_size=32, patch_size=8)
                ).save_pretrained(root / "dino")
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "a", "star", "heart", "house"])}
    tok = Tokenizer(tm.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]",
                            unk_token="[UNK]").save_pretrained(root / "clip")
    CLIPModel(CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2,
                         max_position_embeddings=16),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=2, image_size=32, patch_size=8),
        projection_dim=16)).save_pretrained(root / "clip")
    (root / "lpips").mkdir()
    net = lpips_net("alex")
    torch.save({k: v for k, v in net.state_dict().items() if k.startswith("features.")},
               root / "lpips" / "alexnet.pth")
    torch.save({k: v.abs() for k, v in net.state_dict().items() if k.startswith("lin")},
               root / "lpips" / "alex.pth")
    return root


def _images():
    rng = np.random.default_rng(0)
    a = np.full((2, 200, 200, 3), 255, np.uint8)
    a[0, 50:150, 50:150] = (200, 30, 30)
    a[1, 20:90, 100:180] = (20, 20, 160)
    b = a.copy()
    b[:, ::7] = rng.integers(0, 255, (2, 29, 200, 3))
    return list(a), list(b)


def test_dino_and_clip_embed_identical_images_identically(models):
    a, b = _images()
    for enc in (Dino(str(models / "dino")), Clip(str(models / "clip"))):
        ea, ea2, eb = enc.embed(a), enc.embed([x.copy() for x in a]), enc.embed(b)
        assert ea.shape[0] == 2 and torch.equal(ea, ea2)
        assert not torch.allclose(ea, eb)
    t = Clip(str(models / "clip")).embed_text(["a star", "a heart"])
    assert t.shape == (2, 16)


def test_lpips_is_zero_on_identical_and_positive_on_different(models):
    a, b = _images()
    lp = Lpips(str(models / "lpips"))
    same = lp.distance(a, a)
    diff = lp.distance(a, b)
    assert np.allclose(same, 0, atol=1e-7) and (diff > 1e-4).all()


def test_frechet_distance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4))
    assert frechet_distance(x, x) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(x, x + 1.0) == pytest.approx(4.0, rel=1e-6)  # ‖Δμ‖² only
    assert frechet_distance(x[:1], x) is None


def test_bad_folders_are_clear_errors(tmp_path, models):
    with pytest.raises(ModelLoadError, match="not a transformers model folder"):
        Dino(str(tmp_path))
    with pytest.raises(ModelLoadError, match="alex.pth"):
        Lpips(str(tmp_path))
    from svgrl.bench.run import BenchConfig

    with pytest.raises(ConfigError, match="--dino"):
        BenchConfig(data="pytablericons", out=str(tmp_path), dino=str(tmp_path / "nope"))


def test_bench_with_and_without_learned_metrics(models, icon_folder, tmp_path):
    from svgrl.bench.run import BenchConfig, run_bench

    base = dict(data=str(icon_folder), limit=3, systems=["oracle", "potrace"], progress=False)
    res = run_bench(BenchConfig(out=str(tmp_path / "a"), dino=str(models / "dino"),
                                clip=str(models / "clip"), lpips=str(models / "lpips"), **base))
    o, p = res["systems"]["oracle"], res["systems"]["potrace"]
    for k in ("dino", "clip", "lpips", "fd_dino", "fid_clip"):
        assert isinstance(o[k], float) and isinstance(p[k], float), k
    assert -1 <= o["dino"] <= 1 and o["lpips"] >= 0
    assert all(isinstance(r["dino"], float) for r in res["samples"]["potrace"])
    bare = run_bench(BenchConfig(out=str(tmp_path / "b"), **base))
    assert bare["systems"]["oracle"]["dino"] == "unavailable: pass --dino PATH"
    assert bare["systems"]["oracle"]["lpips"] == "unavailable: pass --lpips PATH"
