"""Serving a Qwen2.5-VL model (the tiny random one of ``tests/conftest.py``): image and text
requests that join the running batch mid-flight decode exactly what each decodes alone, and
the HTTP API answers image requests, best-of scoring against the uploaded image."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest
import torch
from helpers.serve import live_server

from svgrl.model.backbones import BackboneConfig, prepare_backbone
from svgrl.model.generate import generate_ids
from svgrl.model.prompts import prompt_for
from svgrl.model.qwen_vl import VLPrompt
from svgrl.model.sampling import Sampling
from svgrl.serve.app import create_app
from svgrl.serve.config import ServeConfig
from svgrl.serve.decoder import BatchDecoder
from svgrl.svg.image_io import encode_png

GREEDY = Sampling(0.0, 1.0, 0)


@pytest.fixture(scope="module")
def vl_lm(tiny_qwen_vl):
    torch.manual_seed(0)
    lm = prepare_backbone(BackboneConfig(backbone=str(tiny_qwen_vl))).train(False)
    # Sharpen the random model (×6 on the language model's weights) so greedy choices are
    # not near-ties that float rounding of a padded batch could flip.
    with torch.no_grad():
        for name, w in lm.model.named_parameters():
            if "language_model" in name and "norm" not in name:
                w.mul_(6)
    return lm


def _image(h: int, w: int) -> np.ndarray:
    rgb = np.full((h, w, 3), 255, np.uint8)
    rgb[h // 4:3 * h // 4, w // 4:w // 2] = 0
    return rgb


def test_vl_requests_joining_mid_flight_decode_as_alone(vl_lm):
    lm = vl_lm
    prompts = [prompt_for(lm, "image", image=_image(56, 56)),
               prompt_for(lm, "image", image=_image(28, 56)),
               prompt_for(lm, "text", text="arrow left")]
    assert all(isinstance(p, VLPrompt) for p in prompts)
    assert len({len(p.ids) for p in prompts}) == 3  # the batch is left-padded
    budgets = [20, 14, 24]
    alone = [generate_ids(lm, p, 2, GREEDY, max_new_tokens=b)
             for p, b in zip(prompts, budgets, strict=True)]
    d = BatchDecoder(lm)
    joins = {0: 0, 3: 1, 7: 2}
    got: dict = {}
    step = 0
    while d.live or step <= max(joins):
        if step in joins:
            i = joins[step]
            d.add(i, prompts[i], 2, GREEDY, max_new_tokens=budgets[i])
        for t in d.step():
            got.setdefault((t.key, t.row), []).append(t.token)
        step += 1
    for i, rows in enumerate(alone):
        assert [got[(i, r)] for r in range(2)] == rows, i


def test_http_image_and_text_requests_and_best_of(vl_lm):
    app = create_app(vl_lm, ServeConfig(run="qwen", max_n=4, max_batch_rows=8,
                                        max_new_tokens=256, default_new_tokens=24),
                     {"name": "qwen", "step": 0})
    with live_server(app) as url, httpx.Client(base_url=url, timeout=120) as c:
        assert c.get("/v1/info").json()["model"]["image_input"] is True
        png = base64.b64encode(encode_png(_image(64, 64))).decode()
        r = c.post("/v1/generate", json={"image": png, "n": 2, "max_new_tokens": 24})
        assert r.status_code == 200, r.text
        assert [s["svg"].startswith("<svg") for s in r.json()["samples"]] == [True, True]
        r = c.post("/v1/generate", json={"text": "a house", "n": 1, "max_new_tokens": 24})
        assert r.status_code == 200, r.text
        r = c.post("/v1/generate", json={"image": png, "n": 1, "best_of": 3,
                                         "max_new_tokens": 24})
        assert r.status_code == 200, r.text
        sel = r.json()["samples"][0]["selection"]
        assert sel["method"] == "best_of" and len(sel["scores"]) == 3
        valid = [x for x in sel["scores"] if x is not None]
        assert valid and sel["scores"][sel["chosen"]] == max(valid)
