"""Near-duplicate removal on real Tabler icons: aliases that draw the same picture merge,
icons that differ in one small detail do not. (A nudged copy that is merged as a near
duplicate, through the confirmation, is in `test_data_build`'s messy folder.)"""

import pytest

from svgrl.data.curate import CurateOptions, curate_item
from svgrl.data.dedup import deduplicate
from svgrl.data.sources import iter_source
from svgrl.tokens.layout import TokenLayout

PAIRS = {
    # same drawing under two names (Tabler aliases): a near duplicate
    "filled/contrast": "filled/brightness",
    "outline/zoom": "outline/search",
    # a chevron pointing the other way, three dots against one: distinct icons
    "filled/layout-sidebar-right-expand": "filled/layout-sidebar-right-collapse",
    "outline/wash-dry-3": "outline/wash-dry-1",
    "outline/map-pin-2": "outline/map-2",
}


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    want = {f"pytablericons/{n}" for pair in PAIRS.items() for n in pair}
    items = [it for it in iter_source("pytablericons") if it.id in want]
    layout = TokenLayout()
    out = {}
    for it in items:
        res = curate_item(it, CurateOptions(), layout)
        out[it.id.split("/", 1)[1]] = res["record"]
    assert len(out) == len(want)
    return out


@pytest.mark.parametrize("first, second", list(PAIRS.items()))
def test_near_duplicates_are_confirmed_on_fine_renders(records, first, second):
    pair = [records[first], records[second]]
    kept, exact, near, _ = deduplicate(pair)
    same = first in ("filled/contrast", "outline/zoom")
    assert len(kept) == (1 if same else 2), (first, second)
    if not same:
        # Without the confirmation, the thumbnail signatures alone merge them.
        kept_unconfirmed, _, near_unconfirmed, _ = deduplicate(pair, confirm=False)
        assert len(kept_unconfirmed) == 1 and sum(near_unconfirmed.values()) == 1
