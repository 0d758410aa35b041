"""Next-token masks for constrained decoding: a finite state machine over the token layout.

The grammar accepts exactly the canonical spelling the encoder writes:

    BOS (PAINT [evenodd] M p (L p | C p p p | A r θ fa fs p | Z | M p)*)+ EOS PAD*

where PAINT is a FILL token or, in layouts with gradients, ``LINEAR p p`` / ``RADIAL p p p p``
followed by 2 to 8 ``OFFSET COLOUR`` stops, and (in those layouts) an optional effect
``BLUR SIGMA | (SHADOW | INNER) SIGMA SHIFT SHIFT [ALPHA]`` (see `svgrl.tokens.layout`);

with one extra rule that makes every accepted sequence decode strictly to a drawing that
can draw something: every subpath bears area before it ends (Z, M, the next FILL or EOS) —
two L segments, or one C or A. So no ``M Z`` (a Z straight after the move), no ``M M`` (an
empty subpath), no single line (``M L Z``, ``M L`` then the end); a Z returns to the
subpath's start, so a segment after it starts a new subpath under the same rule, and ``Z Z``
is never offered. What the grammar cannot see (collinear points, points that coincide after
snapping, a colour equal to the background) is left to the bounded redraws of
`svgrl.model.select`. The non-canonical tokens (explicit ``nonzero``, ``currentColor``)
decode but are not offered.

Per step the work is O(1): token → class via a list lookup, (state, class) → state via a
table, and the mask is a precomputed array chosen by (state, remaining budget). The budget
rule keeps generation closable: a token is allowed only if, after it, the shortest way to a
valid EOS still fits in `max_len`, so near the limit the mask narrows until EOS is forced.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from svgrl.errors import ConfigError, TokenError
from svgrl.tokens.layout import MAX_STOPS, N_COLOURS, SPECIALS, TokenLayout

# Token classes. C_FILL is a colour (also a gradient stop's); C_FILL_NONE only starts a path.
(C_FOREIGN, C_PAD, C_BOS, C_EOS, C_TASK, C_M, C_L, C_C, C_A, C_Z, C_FILL, C_FILL_CURRENT,
 C_NONZERO, C_EVENODD, C_ROT, C_LARGE, C_SWEEP, C_POINT, C_FILL_NONE, C_LINEAR, C_RADIAL,
 C_OFFSET, C_ALPHA, C_BLUR, C_SHADOW, C_SIGMA, C_SHIFT) = range(27)
N_CLASSES = 27

# States: what the sequence expects next.
# S_B0: a subpath with no segment yet; S_B0L: with one L (no area yet); S_B1: the subpath
# bears area; S_ZED: after Z (back at the subpath's start, a segment would start a new one).
(S_BOS, S_FIRST, S_RULE, S_MOVE, S_MPT0, S_ZED, S_B0, S_B1, S_LPT, S_C1, S_C2, S_C3,
 S_AR, S_AROT, S_AFA, S_AFS, S_APT, S_END, S_GL1, S_GL2, S_GR1, S_GR2, S_GR3, S_GR4) = range(24)
# Gradient stops: S_COL[k] expects the colour of stop k (1-based), S_AFT[k] follows it (an
# opacity may come), S_AFTA[k] follows its opacity (S_AFT[0]: the first offset is due).
S_COL = [-1, *range(24, 24 + MAX_STOPS)]
S_AFT = list(range(24 + MAX_STOPS, 25 + 2 * MAX_STOPS))
S_AFTA = [-1, *range(25 + 2 * MAX_STOPS, 25 + 3 * MAX_STOPS)]
# Effects: S_EB expects a blur's sigma; S_ES a shadow's, then S_EX / S_EY its offsets, S_EA
# an optional opacity; S_EDONE: the effect is complete (rule or first move next).
S_EB, S_ES, S_EX, S_EY, S_EA, S_EDONE = range(25 + 3 * MAX_STOPS, 31 + 3 * MAX_STOPS)
S_B0L, S_LPT0 = 31 + 3 * MAX_STOPS, 32 + 3 * MAX_STOPS  # one L into a subpath; its point
N_STATES = 33 + 3 * MAX_STOPS
STATE_NAMES = ("bos", "first-fill", "rule-or-M", "M", "M-point", "after-Z", "a segment (the "
               "subpath has none yet)", "path-body", "L-point", "C-point-1", "C-point-2",
               "C-point-3",
               "A-radii", "A-rotation", "A-large-flag", "A-sweep-flag", "A-point", "end",
               "linear-point-1", "linear-point-2", "radial-centre", "radial-axis-1",
               "radial-axis-2", "radial-focus",
               *(f"stop-{k}-colour" for k in range(1, MAX_STOPS + 1)),
               "stop-1-offset", *(f"after-stop-{k}" for k in range(1, MAX_STOPS + 1)),
               *(f"after-stop-{k}-opacity" for k in range(1, MAX_STOPS + 1)),
               "blur-sigma", "shadow-sigma", "shadow-dx", "shadow-dy", "after-shadow",
               "rule-or-M (after an effect)",
               "a segment (the subpath has one line, no area yet)", "L-point")
# A path's paint may be followed by one effect (INNER shares SHADOW's class: same grammar).
_EFFECT = {C_BLUR: S_EB, C_SHADOW: S_ES}
_PATH_START = {C_FILL: S_RULE, C_FILL_NONE: S_RULE, C_LINEAR: S_GL1, C_RADIAL: S_GR1}

# (state, class) -> next state. A subpath goes B0 (no segment) -L-> B0L -L-> B1, or B0 -C/A->
# B1; only B1 (and Z after it) may end the subpath.
_EDGES: dict[int, dict[int, int]] = {
    S_BOS: {C_BOS: S_FIRST},
    S_FIRST: dict(_PATH_START),
    S_RULE: {C_EVENODD: S_MOVE, C_M: S_MPT0, **_EFFECT},
    S_MOVE: {C_M: S_MPT0},
    S_MPT0: {C_POINT: S_B0},
    S_B0: {C_L: S_LPT0, C_C: S_C1, C_A: S_AR},
    S_LPT0: {C_POINT: S_B0L},
    S_B0L: {C_L: S_LPT, C_C: S_C1, C_A: S_AR},
    S_B1: {C_L: S_LPT, C_C: S_C1, C_A: S_AR, C_Z: S_ZED, C_M: S_MPT0, **_PATH_START,
           C_EOS: S_END},
    S_ZED: {C_L: S_LPT0, C_C: S_C1, C_A: S_AR, C_M: S_MPT0, **_PATH_START, C_EOS: S_END},
    S_LPT: {C_POINT: S_B1},
    S_C1: {C_POINT: S_C2},
    S_C2: {C_POINT: S_C3},
    S_C3: {C_POINT: S_B1},
    S_AR: {C_POINT: S_AROT},
    S_AROT: {C_ROT: S_AFA},
    S_AFA: {C_LARGE: S_AFS},
    S_AFS: {C_SWEEP: S_APT},
    S_APT: {C_POINT: S_B1},
    S_END: {C_PAD: S_END, C_EOS: S_END},
    S_GL1: {C_POINT: S_GL2},
    S_GL2: {C_POINT: S_AFT[0]},
    S_GR1: {C_POINT: S_GR2},
    S_GR2: {C_POINT: S_GR3},
    S_GR3: {C_POINT: S_GR4},
    S_GR4: {C_POINT: S_AFT[0]},
    S_AFT[0]: {C_OFFSET: S_COL[1]},
    S_AFT[1]: {C_ALPHA: S_AFTA[1], C_OFFSET: S_COL[2]},
    S_AFTA[1]: {C_OFFSET: S_COL[2]},
    **{S_COL[k]: {C_FILL: S_AFT[k]} for k in range(1, MAX_STOPS + 1)},
    # two stops or more: another stop, or the path's rule / first move
    **{S_AFT[k]: {C_ALPHA: S_AFTA[k], **({C_OFFSET: S_COL[k + 1]} if k < MAX_STOPS else {}),
                  C_EVENODD: S_MOVE, C_M: S_MPT0, **_EFFECT} for k in range(2, MAX_STOPS + 1)},
    **{S_AFTA[k]: {**({C_OFFSET: S_COL[k + 1]} if k < MAX_STOPS else {}),
                   C_EVENODD: S_MOVE, C_M: S_MPT0, **_EFFECT} for k in range(2, MAX_STOPS + 1)},
    S_EB: {C_SIGMA: S_EDONE},
    S_ES: {C_SIGMA: S_EX},
    S_EX: {C_SHIFT: S_EY},
    S_EY: {C_SHIFT: S_EA},
    S_EA: {C_ALPHA: S_EDONE, C_EVENODD: S_MOVE, C_M: S_MPT0},
    S_EDONE: {C_EVENODD: S_MOVE, C_M: S_MPT0},
}


def _close_costs() -> list[int]:
    """Fewest tokens from each state to a finished drawing (EOS consumed)."""
    inf = 1 << 30
    cost = [inf] * N_STATES
    cost[S_END] = 0
    for _ in range(N_STATES):
        for s, edges in _EDGES.items():
            for nxt in edges.values():
                cost[s] = min(cost[s], 1 + cost[nxt])
    return cost


CLOSE = _close_costs()
_BUDGET_LEVELS = max(CLOSE) + 2  # remaining budgets >= this all share the unconstrained mask


class Grammar:
    """Precomputed class table, transitions and masks for one layout (build once, share).

    `vocab_size` may exceed the layout's (models often pad their embedding rows); the extra
    ids are never allowed.
    """

    def __init__(self, layout: TokenLayout, vocab_size: int | None = None):
        v = layout.vocab_size if vocab_size is None else vocab_size
        if v < layout.vocab_size:
            raise ConfigError(f"vocab_size={v} is smaller than the layout's {layout.vocab_size}: "
                              "resize the model embeddings to at least layout.vocab_size")
        self.layout, self.vocab_size = layout, v
        cls = np.full(v + 1, C_FOREIGN, dtype=np.int8)  # index v: sentinel for bad ids
        s0 = layout.special_start
        cls[s0:s0 + len(SPECIALS)] = C_TASK
        cls[layout.pad], cls[layout.bos], cls[layout.eos] = C_PAD, C_BOS, C_EOS
        for op, c in zip("MLCAZ", (C_M, C_L, C_C, C_A, C_Z), strict=True):
            cls[layout.command(op)] = c
        cls[layout.fill_start:layout.fill_start + N_COLOURS] = C_FILL
        cls[layout.fill_none] = C_FILL_NONE
        cls[layout.fill_current] = C_FILL_CURRENT
        cls[layout.rule("nonzero")], cls[layout.rule("evenodd")] = C_NONZERO, C_EVENODD
        cls[layout.rotation_start:layout.flag_start] = C_ROT
        cls[layout.flag_start:layout.flag_start + 2] = C_LARGE
        cls[layout.flag_start + 2:layout.point_start] = C_SWEEP
        cls[layout.point_start:layout.paint_start] = C_POINT
        if layout.gradients:
            cls[layout.paint("linear")], cls[layout.paint("radial")] = C_LINEAR, C_RADIAL
            cls[layout.offset_start:layout.alpha_start] = C_OFFSET
            cls[layout.alpha_start:layout.effect_start] = C_ALPHA
            cls[layout.effect("blur")] = C_BLUR
            cls[layout.effect("shadow")] = cls[layout.effect("inner")] = C_SHADOW
            cls[layout.sigma_start:layout.shift_start] = C_SIGMA
            cls[layout.shift_start:layout.vocab_size] = C_SHIFT
        self.class_of: list[int] = cls.tolist()
        self.trans = [[_EDGES[s].get(c, -1) for c in range(N_CLASSES)] for s in range(N_STATES)]
        class_masks = [cls[:v] == c for c in range(N_CLASSES)]

        # masks[state][min(remaining, _BUDGET_LEVELS)] -> shared bool array (deduplicated).
        unique: dict[frozenset, np.ndarray] = {}
        self.masks: list[list[np.ndarray]] = []
        self.allowed_classes: list[list[frozenset]] = []
        for s in range(N_STATES):
            row, crow = [], []
            for r in range(_BUDGET_LEVELS + 1):
                if s == S_END:  # finished rows keep emitting PAD/EOS whatever the budget
                    allowed = frozenset(_EDGES[S_END])
                else:
                    allowed = frozenset(c for c, nxt in _EDGES[s].items() if 1 + CLOSE[nxt] <= r)
                if allowed not in unique:
                    m = np.zeros(v, dtype=bool)
                    for c in allowed:
                        m |= class_masks[c]
                    m.flags.writeable = False
                    unique[allowed] = m
                row.append(unique[allowed])
                crow.append(allowed)
            self.masks.append(row)
            self.allowed_classes.append(crow)
        self._torch: dict[int, Any] = {}
        self._bias: dict[tuple[int, str], Any] = {}
        self._plans: dict[int, tuple[str, Any]] = {}  # per mask: how mask_logits_ applies it

    def start(self, max_len: int, *, after_bos: bool = False) -> GrammarState:
        """A fresh state. `max_len` counts the tokens this state will consume (BOS included
        unless `after_bos`, for prompts that already end with ``<svg>``)."""
        return GrammarState(self, max_len, after_bos=after_bos)

    def torch_mask(self, mask: np.ndarray) -> Any:
        """The torch.bool tensor of a precomputed mask (converted once, then cached)."""
        t = self._torch.get(id(mask))
        if t is None:
            import torch

            t = self._torch[id(mask)] = torch.from_numpy(mask.copy())
        return t

    def torch_bias(self, mask: np.ndarray, dtype: Any = None) -> Any:
        """Additive logits bias of a mask: 0 where allowed, -inf elsewhere (cached). Adding it
        is the cheapest way to apply a mask (one fused add, no boolean inversion)."""
        import torch

        dtype = dtype or torch.float32
        key = (id(mask), str(dtype))
        b = self._bias.get(key)
        if b is None:
            b = torch.zeros(len(mask), dtype=dtype)
            b[~torch.from_numpy(mask.copy())] = float("-inf")
            self._bias[key] = b
        return b

    def batch_bias(self, states: Sequence[GrammarState], dtype: Any = None) -> Any:
        """(B, vocab) additive bias for a batch of generation states — or (1, vocab) when
        every row is in the same grammar state (most steps: all rows writing points), which
        broadcasts in the add and skips copying B rows of vocabulary size."""
        import torch

        biases = [self.torch_bias(st.mask(), dtype) for st in states]
        if biases and all(b is biases[0] for b in biases):
            return biases[0].unsqueeze(0)
        return torch.stack(biases)

    def mask_logits_(self, scores: Any, states: Sequence[GrammarState]) -> Any:
        """Set forbidden logits to -inf in place, row by row (B, V); equal to adding
        `batch_bias`, without touching every logit. Each grammar mask is a union of a few
        contiguous id ranges (specials, commands, colours, ..., points), so a row either
        gets its few forbidden *ranges* filled with -inf (when most tokens are allowed, e.g.
        points) or is reset to -inf with its few allowed ids put back (when few are
        allowed, e.g. flags): work ∝ the smaller side, not the vocabulary."""
        import torch

        masks = [st.mask() for st in states]
        if masks and all(m is masks[0] for m in masks):
            return scores.add_(self.torch_bias(masks[0], scores.dtype))
        neg = float("-inf")
        for i, m in enumerate(masks):
            kind, arg = self._plan(m, torch)
            row = scores[i]
            if kind == "ranges":
                for a, b in arg:
                    row[a:b] = neg
            else:
                keep = row.index_select(0, arg)
                row.fill_(neg)
                row.index_copy_(0, arg, keep)
        return scores

    def _plan(self, mask: np.ndarray, torch: Any) -> tuple[str, Any]:
        plan = self._plans.get(id(mask))
        if plan is None:
            edges = np.flatnonzero(np.diff(np.concatenate(([True], mask, [True])).astype(np.int8)))
            forbidden = list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
            allowed = np.flatnonzero(mask)
            if len(forbidden) <= 8 or len(allowed) > 4096:
                plan = ("ranges", forbidden)
            else:
                plan = ("keep", torch.from_numpy(allowed))
            self._plans[id(mask)] = plan
        return plan

    def check(self, ids: Sequence[int], max_len: int | None = None) -> None:
        """Raise `TokenError` at the first token the grammar forbids, or if `ids` is not a
        complete drawing (or, given `max_len`, does not fit in it)."""
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        try:
            # No max_len: a budget that never binds, so only the grammar decides.
            st = self.start(len(ids) + _BUDGET_LEVELS if max_len is None else max_len)
        except ConfigError as e:
            raise TokenError(str(e), reason="range", position=0) from None
        for t in ids:
            st.advance(t)
        if not st.done:
            raise TokenError(f"sequence ends in state {STATE_NAMES[st.state]!r}, not after </svg>",
                             reason="truncated", position=len(ids))

    def accepts(self, ids: Sequence[int], max_len: int | None = None) -> bool:
        try:
            self.check(ids, max_len)
        except TokenError:
            return False
        return True


@lru_cache(maxsize=8)
def grammar_for(layout: TokenLayout, vocab_size: int | None = None) -> Grammar:
    """A shared `Grammar` per (layout, vocab size): building one costs ~50 ms."""
    return Grammar(layout, vocab_size)


class GrammarState:
    """Incremental position in the grammar: `advance(token)` and `mask()` are O(1)."""

    __slots__ = ("grammar", "max_len", "n", "state")

    def __init__(self, grammar: Grammar, max_len: int, *, after_bos: bool = False):
        start = S_FIRST if after_bos else S_BOS
        if not isinstance(max_len, int) or max_len < CLOSE[start]:
            raise ConfigError(f"a budget of {max_len!r} tokens cannot hold a drawing: the "
                              f"shortest one takes {CLOSE[start]} tokens from here; raise the "
                              "token budget (--max-new-tokens; GRPO: --max-completion-length)")
        self.grammar, self.max_len, self.n, self.state = grammar, max_len, 0, start

    @property
    def done(self) -> bool:
        return self.state == S_END

    @property
    def remaining(self) -> int:
        return self.max_len - self.n

    def _level(self) -> int:
        r = self.max_len - self.n
        return r if r < _BUDGET_LEVELS else _BUDGET_LEVELS

    def mask(self) -> np.ndarray:
        """Read-only bool array over the vocabulary: True where the next token may go."""
        return self.grammar.masks[self.state][self._level()]

    def mask_torch(self) -> Any:
        return self.grammar.torch_mask(self.mask())

    def bias_torch(self, dtype: Any = None) -> Any:
        """0 / -inf logits bias of `mask()` (see `Grammar.torch_bias`)."""
        return self.grammar.torch_bias(self.mask(), dtype)

    def allows(self, token: int) -> bool:
        g = self.grammar
        token = operator.index(token)
        c = g.class_of[token] if 0 <= token < g.vocab_size else C_FOREIGN
        return c in g.allowed_classes[self.state][self._level()]

    def advance(self, token: int) -> GrammarState:
        """Consume one token; raise `TokenError` (position = tokens consumed) if forbidden."""
        g = self.grammar
        try:
            token = operator.index(token)
        except TypeError:
            raise TokenError(f"token ids are ints, got {token!r}", reason="input",
                             position=self.n) from None
        c = g.class_of[token] if 0 <= token < g.vocab_size else C_FOREIGN
        if c not in g.allowed_classes[self.state][self._level()]:
            why = ("" if g.trans[self.state][c] >= 0
                   else f" (expected {STATE_NAMES[self.state]})")
            if not why:
                why = f" (only {self.remaining} tokens of budget left: must close the drawing)"
            raise TokenError(f"{g.layout.describe(token)} is not allowed here{why}",
                             position=self.n)
        self.state = g.trans[self.state][c]
        self.n += 1
        return self

    def copy(self) -> GrammarState:
        st = GrammarState.__new__(GrammarState)
        st.grammar, st.max_len, st.n, st.state = self.grammar, self.max_len, self.n, self.state
        return st
