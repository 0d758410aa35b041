"""Run-folder JSON files that are missing, foreign or of another version are typed errors
that name the file."""

from __future__ import annotations

import json

import pytest

from svgrl.errors import ConfigError, ModelLoadError
from svgrl.model.vision import VISION_CONFIG, load_vision
from svgrl.rl.checkpoint import read_config, write_config


def test_grpo_config_round_trip_and_bad_files(tmp_path):
    write_config(tmp_path, {"task": "math"})
    assert read_config(tmp_path) == {"task": "math"}
    p = tmp_path / "config.json"
    for text, needle in (("{", "not valid JSON"), ('{"format": "x"}', "not an svgrl"),
                         (json.dumps({"format": json.loads(p.read_text())["format"],
                                      "version": 99}), "version 99")):
        p.write_text(text)
        with pytest.raises(ConfigError, match=needle):
            read_config(tmp_path)
    p.unlink()
    with pytest.raises(ConfigError, match="cannot read"):
        read_config(tmp_path)


def test_vision_prefix_of_another_version_is_refused(tmp_path):
    assert load_vision(tmp_path) is None  # no prefix saved: a text-only model
    (tmp_path / VISION_CONFIG).write_text('{"format": "svgrl.vision_prefix", "version": 99}')
    with pytest.raises(ModelLoadError, match="vision prefix config"):
        load_vision(tmp_path)
