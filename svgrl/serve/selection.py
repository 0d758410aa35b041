"""Valid samples, best-of-N and consensus-N for served requests.

A finished sample that is empty, blank or unrenderable is redrawn (`why_rejected`;
`svgrl.serve.app` submits the redraws as follow-up requests, within a budget). Best-of-N and
consensus-N: the engine decodes ``n × N`` candidate rows together (one request, one batch),
then each of the `n` answers is picked among its `N` candidates by `svgrl.model.select` —
best-of against the prompt image (render reward), consensus by render SSIM (outliers
dropped, the medoid kept). Candidates that are empty, blank or that resvg cannot render
(`svgrl.model.select.rejection`) do not compete unless none of a group is valid.
"""

from __future__ import annotations

from typing import Any

import numpy as np

METHODS = ("best_of", "consensus")


def why_rejected(lm: Any, ids: list[int]) -> str | None:
    """Why a finished row cannot be returned (empty, blank in our render or in resvg's,
    unrenderable), or None — the test `svgrl generate` redraws by."""
    from svgrl.model.generate import to_samples
    from svgrl.model.select import rejection

    return rejection(to_samples(lm, [ids])[0])


def choose(lm: Any, rows: list[list[int]], n: int, per: int, method: str,
           target: np.ndarray | None) -> list[tuple[int, dict]]:
    """For each of the `n` groups of `per` consecutive rows: (index of the chosen row, how
    it was chosen: per candidate its score — best-of: reward against the image; consensus:
    mean SSIM to the others — None for invalid ones, and the candidates kept after
    consensus drops outliers). Blocking (renders every candidate): run it in a thread."""
    from svgrl.model.generate import to_samples
    from svgrl.model.select import best_of, consensus, rejection

    samples = to_samples(lm, rows)
    out = []
    for k in range(n):
        group = list(range(k * per, (k + 1) * per))
        valid = [i for i in group if rejection(samples[i]) is None]
        pool = valid or group
        cands = [samples[i] for i in pool]
        pick = best_of(cands, target, lm.layout) if method == "best_of" else consensus(cands)
        chosen = pool[pick.index]
        scores = {pool[j] - k * per: round(float(x), 4) for j, x in enumerate(pick.scores)}
        out.append((chosen, {"method": method, "candidates": per, "valid": len(valid),
                             "chosen": chosen - k * per,
                             "scores": [scores.get(j) for j in range(per)],
                             "kept": sorted(pool[j] - k * per for j in pick.kept)}))
    return out
