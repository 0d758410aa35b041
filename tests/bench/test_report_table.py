"""The bench report's table: learned metrics that no system has become one note, not a
column of "unavailable" cells per metric (five such columns made the table scroll sideways)."""

from __future__ import annotations

from svgrl.bench.report import table

NO_DINO = "unavailable: pass --dino PATH"
NO_CLIP = "unavailable: pass --clip PATH"


def _results(**oracle_extra) -> dict:
    base = {"n": 2, "valid": 1.0, "ssim": 0.9, "errors": {}, "dino": NO_DINO,
            "fd_dino": NO_DINO, "clip": NO_CLIP, "fid_clip": NO_CLIP,
            "lpips": "unavailable: pass --lpips PATH"}
    return {"systems": {"oracle": {**base, **oracle_extra}, "vtracer": dict(base)}}


def test_unavailable_learned_metrics_are_a_note_not_columns():
    html = table(_results())
    assert "SSIM" in html and "0.9000" in html
    for header in ("<th>DINO", "<th>CLIP", "<th>LPIPS", "<th>FID-CLIP", "<th>FD-DINOv2"):
        assert header not in html
    assert html.count("unavailable") == 0
    assert "DINO, FD-DINOv2 — pass --dino PATH" in html
    assert "CLIP, FID-CLIP — pass --clip PATH" in html and "pass --lpips PATH" in html


def test_a_learned_metric_one_system_has_keeps_its_column():
    html = table(_results(dino=0.75))
    assert "<th>DINO ↑</th>" in html and "0.7500" in html
    assert "pass --dino PATH</span>" in html  # the other system's cell says why it is empty
    assert "FD-DINOv2 — pass --dino PATH" in html  # no system has FD-DINOv2


def test_scatter_ticks_have_no_exponents():
    from svgrl.bench.report import scatter

    svg = scatter([("a", 26.8, 0.99), ("b", 983.8, 0.45)], "tokens", "SSIM")
    assert "e+0" not in svg and "1,0" in svg  # the last tick is 1,079, not 1.08e+03
