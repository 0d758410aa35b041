"""SVG element tree → `Drawing` of filled paths (picosvg's job, done in one walk).

One depth-first walk resolves, per element: the CSS cascade and inheritance, the current
transform (baked into coordinates), group opacity, clip paths (intersected with skia path
ops), `use`/`symbol` instancing and nested viewports; then each shape becomes up to two
filled paths — its fill, and its stroke outlined by skia's stroker. What cannot be drawn as
filled paths (text, images, masks, filters, patterns, markers) is recorded as a named drop,
never silently lost; `strict=True` raises instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import skia
from lxml import etree

from svgrl.errors import (
    ConfigError,
    SvgLimitError,
    SvgUnsafeError,
    SvgUnsupportedError,
    SvgValueError,
)
from svgrl.svg.arcs import LONG_ARC_RADIUS
from svgrl.svg.budget import WorkBudget
from svgrl.svg.colors import RGBA, parse_color
from svgrl.svg.css import Rule, RuleIndex, compile_selector, parse_stylesheet, split_declarations
from svgrl.svg.drawing import MAX_EFFECTS, RGB, Drawing, Effect, Gradient, Path
from svgrl.svg.filters import FilterEffects, filter_effects
from svgrl.svg.flatten import fit_flat
from svgrl.svg.paint import GRADIENTS, gradient_color, gradient_paint, gradient_stops
from svgrl.svg.parse import SVG_NS, XLINK_HREF, ParseLimits
from svgrl.svg.shapes import shape_path
from svgrl.svg.skpath import CURVE_TOLERANCE, commands_to_skia, fill_rule_of, skia_to_commands
from svgrl.svg.stroke import outline_stroke
from svgrl.svg.usegraph import recursive_uses, size_and_depth
from svgrl.svg.values import (
    IDENTITY,
    Affine,
    LengthContext,
    multiply,
    parse_font_size,
    parse_length,
    parse_numbers,
    parse_transform,
    translate,
)
from svgrl.svg.viewport import has_intrinsic_size, root_viewport, viewport_transform

# Inherited properties and their initial values (SVG 1.1 property index).
INHERITED = {
    "fill": "black", "fill-opacity": "1", "fill-rule": "nonzero", "stroke": "none",
    "stroke-width": "1", "stroke-opacity": "1", "stroke-linecap": "butt",
    "stroke-linejoin": "miter", "stroke-miterlimit": "4", "stroke-dasharray": "none",
    "stroke-dashoffset": "0", "color": "black", "visibility": "visible", "clip-rule": "nonzero",
    "marker-start": "none", "marker-mid": "none", "marker-end": "none", "font-size": "16",
}
NOT_INHERITED = ("opacity", "display", "clip-path", "mask", "filter", "transform",
                 "transform-origin")
PROPERTIES = frozenset(INHERITED) | frozenset(NOT_INHERITED)
_PAINTS = frozenset(("fill", "stroke", "color"))
_SELECTOR_WORK = 2_000_000  # element visits for complex CSS selectors (~0.1-0.3 s)
_SIBLING_SELECTORS = (":nth", ":last", ":first", ":only", "-of-type", "+", "~")

SHAPES = frozenset(("path", "rect", "circle", "ellipse", "line", "polyline", "polygon"))
CONTAINERS = frozenset(("g", "a", "svg", "switch"))
NON_RENDERING = frozenset((
    "defs", "symbol", "clipPath", "mask", "linearGradient", "radialGradient", "pattern",
    "marker", "title", "desc", "metadata", "style", "filter", "font", "font-face", "cursor",
    "view", "animate", "animateColor", "animateMotion", "animateTransform", "set", "stop",
))
# Drawn content we cannot turn into filled paths; each is reported under its own name.
UNDRAWABLE = frozenset(("text", "image", "foreignObject", "video", "audio", "iframe", "canvas"))
# What a <switch> may pick: graphics and containers it knows (unknown elements are skipped).
_SWITCHABLE = SHAPES | CONTAINERS | UNDRAWABLE | {"use"}

_WINDING, _EVENODD = skia.PathFillType.kWinding, skia.PathFillType.kEvenOdd
_INTERSECT, _UNION = skia.PathOp.kIntersect_PathOp, skia.PathOp.kUnion_PathOp


@dataclass(frozen=True)
class SimplifyOptions:
    """How an SVG becomes filled paths."""

    limits: ParseLimits = field(default_factory=ParseLimits)
    output_size: float = field(default=200.0, metadata={
        "help": "size the drawing will be normalised to; sets stroke/curve precision"})
    strict: bool = field(default=False, metadata={
        "help": "raise SvgUnsupportedError on undrawable content instead of reporting a drop"})
    current_color: str = field(default="black", metadata={
        "help": "value of `color` at the root, which currentColor resolves to"})
    min_alpha: float = field(default=1 / 512, metadata={
        "help": "paints more transparent than this are dropped as invisible"})
    languages: tuple[str, ...] = field(default=("en",), metadata={
        "help": "the reader's languages, which systemLanguage conditions test"})
    gradients: bool = field(default=False, metadata={
        "help": "keep linear and radial gradients as gradient paint (else: their mean colour)"})
    flat_gradients: str = field(default="fit", metadata={
        "help": "without gradients, what stands in for one: 'fit' (the flat colour closest "
                "to what it draws over what lies under it, or nothing when that is closer; "
                "svgrl.svg.flatten) or 'mean' (its mean colour along the ramp)"})
    effects: bool = field(default=True, metadata={
        "help": "with gradients: keep the blur and shadow filters design tools export as "
                "path effects (else, as without gradients, the unfiltered content)"})
    arcs: bool = field(default=True, metadata={
        "help": "write a run of conics on one ellipse (circles, ellipses, rounded corners, "
                "round caps and joins, SVG arcs) that one cubic cannot draw within 0.2 units "
                "as exact A commands (else cubics); the quantiser keeps an A only where it "
                "stays within 0.25 grid units"})
    # The forms that pay on a token grid are exact, but not what resvg draws at output_size:
    # its stroker approximates offset curves (tiny-skia's port of skia's, ~¼ px tolerance)
    # and draws arcs as cubics, and SSIM at 200 px sees those sub-pixel differences. Full
    # Tabler, float, SSIM vs resvg: 0.99709 (p5 0.99352) in the float forms, 0.99664
    # (p5 0.99056) in the grid's; at 16× supersampling the grid's are the nearer (README).
    for_grid: bool = field(default=True, metadata={
        "help": "shape curves for a token grid: exact stroke outlines of lines and circular "
                "arcs, arcs that one cubic draws within 0.2 units as that cubic, A commands "
                "(with `arcs`), one cubic per 45° on wide circles. False (float output, "
                "--grid 0): the forms closest to what resvg draws at output_size — skia's "
                "stroker, a cubic per conic of at most 90°, no A"})

    def __post_init__(self) -> None:
        if self.flat_gradients not in ("fit", "mean"):
            raise ConfigError(f"flat_gradients={self.flat_gradients!r}: use 'fit' or 'mean'")


@dataclass(frozen=True, slots=True)
class Dropped:
    """Content that could not be represented, with where it was found."""

    reason: str
    where: str


@dataclass(frozen=True, slots=True)
class SimplifyResult:
    drawing: Drawing
    dropped: tuple[Dropped, ...] = ()


def _localname(el) -> str | None:
    tag = el.tag
    if not isinstance(tag, str):
        return None
    if tag[0] == "{":
        ns, _, name = tag[1:].partition("}")
        return name if ns == SVG_NS else None  # foreign namespaces (inkscape, ...) are metadata
    return tag


def _matrix(m: Affine) -> skia.Matrix:
    a, b, c, d, e, f = m
    return skia.Matrix.MakeAll(a, c, e, b, d, f, 0.0, 0.0, 1.0)


def _composite(rgba: RGBA, alpha: float) -> RGB:
    """Composite a translucent colour onto white: the flat colour it shows on the page."""
    r, g, b, _ = rgba
    k = 1.0 - alpha
    return (round(r * alpha + 255 * k), round(g * alpha + 255 * k), round(b * alpha + 255 * k))


def _unit(value: str) -> float | None:
    """An opacity (number or percentage) clamped to 0..1; None if it is not one."""
    v = value.strip()
    try:
        x = float(v[:-1]) / 100 if v.endswith("%") else float(v)
    except ValueError:
        return None
    return max(0.0, min(1.0, x)) if math.isfinite(x) else 1.0


def _iri(value: str) -> str | None:
    """The id a `url(#id)` FuncIRI names (quotes allowed), or None."""
    if not value.startswith("url("):
        return None
    ref = value[4:].split(")")[0].strip().strip("'\"").strip()
    return ref[1:] if ref.startswith("#") else None


def _inherit(parent: dict, spec: dict) -> dict:
    st = dict(parent)
    for k, v in spec.items():
        if k in INHERITED and v.strip() != "inherit":
            st[k] = v
    return st


class _Walker:
    """State of one document's walk. Not reused across documents."""

    def __init__(self, root, options: SimplifyOptions, where: str):
        self.opt = options
        self.lim = options.limits
        grid, size = options.for_grid, options.output_size
        self.arcs = options.arcs and grid
        self.curve_tolerance = size * CURVE_TOLERANCE if grid else 0.0
        self.long_radius = size * LONG_ARC_RADIUS / 200 if grid else float("inf")
        self.where = where
        self.paths: list[Path] = []
        self.dropped: list[Dropped] = []
        self.budget = self.lim.max_elements
        self.use_budget = self.lim.max_use_instances
        self.ids: dict[str, etree._Element] = {}
        self.rules: list[Rule] = []
        for el in root.iter():
            name = _localname(el)
            if name is None:
                continue
            if name == "script":
                raise SvgUnsafeError("<script> is refused", reason="script", where=where)
            el_id = el.get("id")
            if el_id and el_id not in self.ids:
                self.ids[el_id] = el
            if name == "style" and el.text:
                if (el.get("type") or "text/css").strip().lower() not in ("text/css", ""):
                    self.drop("style-type", f"<style type={el.get('type')!r}>")
                    continue  # not CSS: a browser ignores the sheet
                rules, skipped = parse_stylesheet(
                    el.text, where, self.lim.max_css_rules - len(self.rules))
                self.rules.extend(rules)
                for sel in skipped:
                    self.drop("css-selector", f"<style> {sel!r}")
        if len(self.rules) > self.lim.max_css_rules:
            raise SvgLimitError(f"{len(self.rules):,} CSS rules exceed the limit of "
                                f"{self.lim.max_css_rules:,}", reason="css-rules", where=where)
        self.index = RuleIndex(self.rules)
        # Selectors the index cannot match: each evaluated once over the document.
        self.matched: dict[etree._Element, list[Rule]] = {}
        cost = 0
        n, depth = size_and_depth(root) if self.index.complex else (0, 0)
        for rule in self.index.complex:
            # Bound the work: compiling costs per character; matching visits each element
            # once per child step, up to `depth` times per descendant step, and up to n
            # times for sibling axes (structural pseudo-classes, + and ~).
            sel = rule.selector
            cost += len(sel) * 100 + n * (1 + depth * len(sel.split()) + sel.count(">"))
            if any(k in sel for k in _SIBLING_SELECTORS):
                cost += n * n
            if cost > _SELECTOR_WORK:
                self.drop("css-selector", "complex selectors beyond the work limit")
                break
            compiled = compile_selector(sel)
            if compiled is None:
                self.drop("css-selector", f"<style> {sel!r}")
                continue
            xpath, (a, b, c) = compiled
            rule = replace(rule, specificity=(a, b, c, rule.specificity[3]))
            for el in root.xpath(xpath):
                self.matched.setdefault(el, []).append(rule)
        self.init_drops = len(self.dropped)
        self._clip_styles: dict = {}
        self.work = WorkBudget(self.lim, where)
        self.gradients: dict[tuple[int, RGBA], RGBA | None] = {}
        self.filters: dict[etree._Element, FilterEffects | None] = {}
        self.stops: dict[tuple[int, RGBA], tuple] = {}
        self.n_effects = 0  # paths with an effect so far (bounded by MAX_EFFECTS)
        self.units = LengthContext()  # the root's; simplify_tree sets it
        self.recursive: set | None = None  # recursive <use>s, found once one is met
        self.box: skia.Rect | None = None  # set to measure the drawn content's bounds
        self.obox: skia.Rect | None = None  # set to measure an object bounding box
        self._units: dict[str, LengthContext] = {}

    # -- bookkeeping -------------------------------------------------------------------
    def restart(self, recursive: set) -> None:
        """Forget a walk cut short, to walk again knowing which <use>s are recursive."""
        self.recursive = recursive
        self.paths.clear()
        del self.dropped[self.init_drops:]
        self.budget = self.lim.max_elements
        self.use_budget = self.lim.max_use_instances
        self.work = WorkBudget(self.lim, self.where)
        self.n_effects = 0

    def drop(self, reason: str, where: str) -> None:
        if self.opt.strict:
            raise SvgUnsupportedError(f"cannot represent {reason}", reason=reason,
                                      where=f"{self.where} {where}".strip())
        self.dropped.append(Dropped(reason, where))

    def length(self, value: str | None, ref: float, default: float, where: str,
               st: dict | None = None) -> float:
        """A length in user units (relative units against the font-size in `st`). An invalid
        value falls back to `default`, as if the attribute were absent (SVG 2 §4.6.1)."""
        if value is None:
            return default
        ctx = self.units
        if st is not None and st["font-size"] != "16":
            ctx = self._units.get(st["font-size"])
            if ctx is None:
                u = self.units
                ctx = self._units[st["font-size"]] = LengthContext(
                    float(st["font-size"]), u.rem, u.vw, u.vh)
        try:
            return parse_length(value, ref, default, where, self.lim.max_abs, ctx)
        except SvgValueError:
            self.drop("invalid-length", f"{where} {value!r}")
            return default

    def path_error(self, message: str) -> None:
        """Path data drawn up to an error (SVG 2 error handling) is reported, not refused."""
        self.drop("path-data-error", message)

    def transform(self, value: str, where: str) -> Affine:
        """A transform list; an invalid one is ignored, as if the attribute were absent."""
        if "px" in value or "deg" in value:  # CSS transform syntax: the units SVG implies
            value = value.replace("px", "").replace("deg", "")
        try:
            return parse_transform(value, where, self.lim.max_abs)
        except SvgLimitError:
            raise
        except SvgValueError:
            self.drop("invalid-transform", f"{where} {value!r}")
            return IDENTITY

    def transform_about(self, value: str, origin: str | None, vp, where: str,
                        st: dict | None = None) -> Affine:
        """A transform about `transform-origin` (CSS Transforms: translate(o)·T·translate(-o));
        keywords and percentages refer to the viewport (SVG's default view-box)."""
        t = self.transform(value, where)
        if not origin or t == IDENTITY:
            return t
        parts = origin.split()[:2]
        if len(parts) == 1:
            parts.append("center")
        x, y = parts
        if x in ("top", "bottom") or y in ("left", "right"):
            x, y = y, x
        kw = {"left": "0%", "top": "0%", "center": "50%", "right": "100%", "bottom": "100%"}
        ox = self.length(kw.get(x, x), vp[0], 0.0, where, st)
        oy = self.length(kw.get(y, y), vp[1], 0.0, where, st)
        return multiply(translate(ox, oy), multiply(t, translate(-ox, -oy)))

    def fraction(self, value: str, where: str) -> float:
        """An opacity; an invalid one is ignored (the initial value 1 applies)."""
        x = _unit(value)
        if x is None:
            self.drop("invalid-opacity", f"{where} {value!r}")
            return 1.0
        return x

    def font_size(self, value: str, parent: str, where: str) -> str:
        try:
            px = parse_font_size(value, float(parent), self.units, where, self.lim.max_abs)
        except SvgValueError:
            self.drop("invalid-length", f"{where} font-size {value!r}")
            return parent
        return repr(px)

    # -- style ---------------------------------------------------------------------------
    def specified(self, el, name: str) -> dict[str, str]:
        """Presentation attributes < matching CSS rules (by specificity) < style="" <
        !important rules < !important in style="" (CSS cascade)."""
        spec = {k: v for k, v in el.attrib.items() if k in PROPERTIES}
        rules: list[Rule] = []
        if not self.index.empty:
            classes = set((el.get("class") or "").split())
            # charged before matching: the candidates are the work
            self.work.css_matches(self.index.candidates(name, classes, el.get("id")) + 1,
                                  f"<{name}>")
            rules = self.index.matching(name, classes, el.get("id"))
            if self.matched and el in self.matched:
                rules = sorted(rules + self.matched[el], key=lambda r: r.specificity)
            for rule in rules:
                spec.update((k, v) for k, v in rule.declarations if k in PROPERTIES)
        style = el.get("style")
        important: list = []
        if style:
            normal, important = split_declarations(style)
            spec.update((k, v) for k, v in normal if k in PROPERTIES)
        for rule in rules:
            if rule.important:
                spec.update((k, v) for k, v in rule.important if k in PROPERTIES)
        if important:
            spec.update((k, v) for k, v in important if k in PROPERTIES)
        return spec

    def paint(self, value: str, st: dict, where: str) -> RGBA | None:
        value = value.strip()
        if value == "none":
            return None
        if value == "currentColor":
            return self.color(st, where)
        if value.startswith("url("):
            ref, _, fallback = value[4:].partition(")")
            ref = ref.strip().strip("'\"")
            if not ref.startswith("#"):
                raise SvgUnsafeError(f"external paint reference {ref!r}", reason="external-ref",
                                     where=where)
            target = self.ids.get(ref[1:])
            if target is not None and _localname(target) in GRADIENTS:
                # one integration per gradient and colour, however many elements use it
                key = (id(target), self.color(st, where))
                if key not in self.gradients:
                    self.gradients[key] = gradient_color(target, self.ids, key[1])
                return self.gradients[key]
            if target is not None and _localname(target) == "pattern":
                self.drop("pattern", where)
            fallback = fallback.strip()
            return self.paint(fallback, st, where) if fallback else None
        try:
            return parse_color(value)
        except SvgValueError:
            self.drop("bad-color", f"{where} {value!r}")
            return None

    def valid_paint(self, value: str, prop: str, where: str) -> bool:
        """Whether a fill / stroke / color value parses; an invalid one is reported."""
        v = value.strip()
        if v == "currentColor" or (prop != "color" and (v == "none" or v.startswith("url("))):
            return True
        try:
            parse_color(v)
        except SvgValueError:
            self.drop("bad-color", f"{where} {prop}={value!r}")
            return False
        return True

    def color(self, st: dict, where: str) -> RGBA:
        c = st.get("color", "black").strip()
        if c in ("currentColor", "inherit"):
            c = self.opt.current_color
        return parse_color(c)

    # -- geometry ------------------------------------------------------------------------
    def emit(self, local: skia.Path, st: dict, ctm: Affine, opacity: float,
             clip: skia.Path | None, where: str, fillable: bool,
             vp: tuple[float, float]) -> None:
        m = _matrix(ctm)
        if self.obox is not None:  # measuring an object bounding box: geometry only
            self.obox.join(m.mapRect(local.computeTightBounds()))
            return
        if st.get("visibility", "visible") in ("hidden", "collapse"):
            return
        if fillable:
            paint = self.paint(st["fill"], st, where)
            if paint is not None:
                alpha = paint[3] * self.fraction(st["fill-opacity"], where) * opacity
                if alpha >= self.opt.min_alpha:
                    p = skia.Path(local)
                    p.setFillType(_EVENODD if st["fill-rule"].strip() == "evenodd" else _WINDING)
                    p.transform(m)
                    grad = self.gradient(st["fill"], st, local, ctm, vp, where,
                                         self.fraction(st["fill-opacity"], where) * opacity)
                    self.add(p, grad.mean() if grad else _composite(paint, alpha), clip, where,
                             grad)
        stroke = self.paint(st["stroke"], st, where)
        if stroke is None:
            return
        paint_alpha = self.fraction(st["stroke-opacity"], where) * opacity
        alpha = stroke[3] * paint_alpha
        diag = math.hypot(*vp) / math.sqrt(2)  # what percentages of non-axis lengths refer to
        width = self.length(st["stroke-width"], diag, 1.0, where, st)
        if alpha < self.opt.min_alpha or width <= 0:
            return
        outline = outline_stroke(local, st, width, ctm, where, self.lim,
                                 lambda v, d: self.length(v, diag, d, where, st), self.work,
                                 self.curve_tolerance, exact=self.opt.for_grid)
        grad = self.gradient(st["stroke"], st, local, ctm, vp, where, paint_alpha)
        self.add(outline, grad.mean() if grad else _composite(stroke, alpha), clip, where, grad)

    def gradient(self, value: str, st: dict, local: skia.Path, ctm: Affine,
                 vp: tuple[float, float], where: str, alpha: float) -> Gradient | None:
        """The gradient paint of a `url(#gradient)` fill/stroke when gradients are kept (or
        fitted by a flat colour at the end)."""
        value = value.strip()
        if not (self.opt.gradients or self.opt.flat_gradients == "fit") \
                or not value.startswith("url("):
            return None
        ref = value[4:].partition(")")[0].strip().strip("'\"")
        target = self.ids.get(ref[1:]) if ref.startswith("#") else None
        if target is None or _localname(target) not in GRADIENTS:
            return None
        b = local.computeTightBounds()
        current = self.color(st, where)
        key = (id(target), current)
        if key not in self.stops:  # parsed and bounded once per gradient and colour
            self.stops[key] = gradient_stops(target, self.ids, current)
        try:
            return gradient_paint(target, self.ids, current, ctm,
                                  (b.fLeft, b.fTop, b.width(), b.height()), vp, alpha, where,
                                  self.stops[key])
        except (SvgValueError, SvgLimitError):
            return None  # a malformed or out-of-range gradient: its mean colour stands in

    def add(self, p: skia.Path, fill: RGB, clip: skia.Path | None, where: str = "",
            paint: Gradient | None = None) -> None:
        if clip is not None:
            p = self.work.op(p, clip, _INTERSECT, where) or skia.Path()
        if p.isEmpty():
            return
        if self.box is not None:  # measuring the content: what it paints, strokes included
            self.box.join(p.computeTightBounds())
            return
        # The root viewport clips too; only paths that really cross it pay for a path op
        # (tight bounds: control points of curves hugging the edge do not count).
        if not p.isFinite():
            raise SvgLimitError("coordinates overflow to infinity (nested transforms, or a "
                                "viewBox too small to scale)", reason="magnitude",
                                where=f"{self.where} {where}".strip())
        b = p.computeTightBounds()
        x0, y0, x1, y1 = self.view
        if b.fLeft < x0 - 1e-3 or b.fTop < y0 - 1e-3 or b.fRight > x1 + 1e-3 \
                or b.fBottom > y1 + 1e-3:
            p = self.work.op(p, self.view_path, _INTERSECT, where) or skia.Path()
            if p.isEmpty():
                return
        cmds = skia_to_commands(p, self.arcs, self.curve_tolerance, self.long_radius)
        if len(cmds) > 1:
            self.paths.append(Path(tuple(cmds), fill, fill_rule_of(p), paint))

    def clip_of(self, value: str, ctm: Affine, vp, clip: skia.Path | None, where: str,
                bbox: skia.Rect | None = None) -> skia.Path | None:
        """Resolve `clip-path: url(#id)` to a canvas-space path intersected with `clip`.
        `bbox` is the referencing element's object bounding box (user space), if known."""
        region = self.clip_region(value, ctm, vp, where, bbox, frozenset())
        if region is None:
            return clip
        if clip is None:
            return region
        return self.work.op(clip, region, _INTERSECT, where) or skia.Path()

    def clip_region(self, value: str, ctm: Affine, vp, where: str, bbox: skia.Rect | None,
                    active: frozenset) -> skia.Path | None:
        """The canvas-space region a `clip-path` value keeps, or None for no clipping
        (`none`, or a reference that is missing, not a clipPath, or recursive: ignored, as
        browsers and resvg do). The clipPath's children are its shapes and <use>s of shapes,
        each with its own transform, clip-path, clip-rule and visibility (inherited through
        the clipPath's own ancestors, not the referencing element's)."""
        value = value.strip()
        if value == "none":
            return None
        ref = _iri(value)
        target = self.ids.get(ref) if ref else None
        if target is None or _localname(target) != "clipPath":
            self.drop("clip-path-missing", where)
            return None
        if ref in active:
            self.drop("clip-path-recursive", where)
            return None
        active = active | {ref}
        cm = ctm  # the clipPath's transform, then its units' box (as resvg and browsers)
        if target.get("transform"):
            cm = multiply(cm, self.transform_about(target.get("transform"), self.specified(
                target, "clipPath").get("transform-origin"), vp, where))
        if (target.get("clipPathUnits") or "").strip() == "objectBoundingBox":
            if callable(bbox):
                bbox = bbox()
            if bbox is None:
                self.drop("clip-objectBoundingBox", where)
                return None
            if bbox.width() <= 0 or bbox.height() <= 0:
                return skia.Path()  # no box to place the clip in: nothing is kept
            cm = multiply(cm, (bbox.width(), 0.0, 0.0, bbox.height(), bbox.left(), bbox.top()))
        base = self.clip_style(target)
        union: skia.Path | None = None
        for child in target:
            name = _localname(child)
            if name is None or name in NON_RENDERING:
                continue
            self.spend(where)
            p = self.clip_child(child, name, base, cm, vp, where, active)
            if p is not None and not p.isEmpty():
                union = p if union is None else (self.work.op(union, p, _UNION, where) or union)
        union = union if union is not None else skia.Path()
        own = target.get("clip-path") or self.specified(target, "clipPath").get("clip-path")
        if own:  # a clip-path on the clipPath itself clips its region
            region = self.clip_region(own, ctm, vp, where, bbox, active)
            if region is not None:
                union = self.work.op(union, region, _INTERSECT, where) or skia.Path()
        return union

    def clip_child(self, child, name: str, base: dict, cm: Affine, vp, where: str,
                   active: frozenset) -> skia.Path | None:
        """One clipPath child as a canvas-space path (its fill area, its clip-rule)."""
        spec = self.specified(child, name)
        if spec.get("display", "").strip() == "none":
            return None
        st = _inherit(base, spec)
        m = cm
        if child.get("transform"):
            m = multiply(m, self.transform(child.get("transform"), where))
        el = child
        if name == "use":  # only a <use> of a shape is a valid clipPath child
            href = (child.get("href") or child.get(XLINK_HREF) or "").strip()
            el = self.ids.get(href[1:]) if href.startswith("#") else None
            name = _localname(el) if el is not None else "use-missing"
            if el is None or name not in SHAPES:
                self.drop(f"clip-use-of-{name}", where)
                return None
            m = multiply(m, translate(self.length(child.get("x"), vp[0], 0, where, st),
                                      self.length(child.get("y"), vp[1], 0, where, st)))
            tspec = self.specified(el, name)
            if tspec.get("display", "").strip() == "none":
                return None
            st = _inherit(st, tspec)
            if el.get("transform"):
                m = multiply(m, self.transform(el.get("transform"), where))
        if name not in SHAPES:
            self.drop(f"clip-{name}", where)  # text, g, switch, image: not drawn into clips
            return None
        if st["visibility"].strip() in ("hidden", "collapse"):
            return None
        p = shape_path(el, name, vp, where, self.lim,
                       lambda v, r, d, w: self.length(v, r, d, w, st), self.path_error)
        if p is None:
            return None
        bounds = p.computeTightBounds()
        p.setFillType(_EVENODD if st["clip-rule"].strip() == "evenodd" else _WINDING)
        p.transform(_matrix(m))
        cp = spec.get("clip-path")
        if cp:  # a child's own clip-path clips that child, in its user space
            region = self.clip_region(cp, m, vp, where, bounds, active)
            if region is not None:
                p = self.work.op(p, region, _INTERSECT, where) or skia.Path()
        return p

    def mask_region(self, value: str, ctm: Affine, vp, where: str) -> skia.Path | None:
        """A mask that only lets through or blocks — every child an opaque white shape (or a
        <use> of one), in user space — is the union of those shapes: a clip. Logo sets
        export their cut-outs this way. None for any other mask (luminance or alpha
        gradations cannot be drawn as filled paths; reported as a drop)."""
        ref = _iri(value.strip())
        target = self.ids.get(ref) if ref else None
        if target is None or _localname(target) != "mask":
            return None
        if (target.get("maskContentUnits") or "").strip() == "objectBoundingBox" or \
                target.get("mask") or target.get("transform"):
            return None
        base = dict(self.clip_style(target))
        union: skia.Path | None = None
        for child in target:
            name = _localname(child)
            if name is None or name in NON_RENDERING:
                continue
            self.spend(where)
            spec = self.specified(child, name)
            st = _inherit(base, spec)
            if name == "use":
                href = (child.get("href") or child.get(XLINK_HREF) or "").strip()
                el = self.ids.get(href[1:]) if href.startswith("#") else None
                if el is None or _localname(el) not in SHAPES:
                    return None
                st = _inherit(st, self.specified(el, _localname(el)))
            elif name not in SHAPES:
                return None
            try:
                white = self.paint(st["fill"], st, where) == (255, 255, 255, 1.0)
                opaque = all(self.fraction(s.get(k, "1"), where) == 1.0
                             for s, k in ((st, "fill-opacity"), (spec, "opacity")))
            except SvgValueError:
                return None
            if not white or not opaque or st["stroke"].strip() != "none":
                return None
            base_rule = dict(base, **{"clip-rule": st["fill-rule"]})
            p = self.clip_child(child, name, base_rule, ctm, vp, where, frozenset())
            if p is not None and not p.isEmpty():
                union = p if union is None else (self.work.op(union, p, _UNION, where) or union)
        return union if union is not None else skia.Path()

    def clip_style(self, target) -> dict:
        """Inherited properties at a clipPath: the cascade down its own ancestors."""
        cached = self._clip_styles.get(target)
        if cached is not None:
            return cached
        chain = [target, *target.iterancestors()]
        st = dict(INHERITED)
        for el in reversed(chain):
            name = _localname(el)
            if name is not None:
                st = _inherit(st, self.specified(el, name))
        self._clip_styles[target] = st
        return st

    def spend(self, where: str) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise SvgLimitError(f"more than {self.lim.max_elements:,} elements after <use> "
                                "expansion", reason="elements", where=where)

    # -- the walk ------------------------------------------------------------------------
    def walk(self, el, parent: dict, ctm: Affine, opacity: float, clip: skia.Path | None,
             vp: tuple[float, float], depth: int, uses: tuple[str, ...],
             name: str | None = None, size_el=None) -> None:
        name = name or _localname(el)
        if name is None or name in NON_RENDERING:
            return
        if not self.conditions_hold(el):
            return
        self.spend(self.where)
        if depth > self.lim.max_depth:
            raise SvgLimitError(f"nesting deeper than {self.lim.max_depth} (with <use>)",
                                reason="depth", where=self.where)
        where = f"<{name}{' id=' + repr(el.get('id')) if el.get('id') else ''}>"
        if name in UNDRAWABLE:
            self.drop(name, where)
            return
        spec = self.specified(el, name)
        if spec.get("display", "").strip() == "none":
            return
        st = dict(parent)
        for k, v in spec.items():
            if k in INHERITED and v.strip() != "inherit":
                if k in _PAINTS and not self.valid_paint(v, k, where):
                    continue  # an invalid value is ignored: the inherited one applies
                st[k] = v
        if "font-size" in spec and spec["font-size"].strip() != "inherit":
            st["font-size"] = self.font_size(spec["font-size"], parent["font-size"], where)
        if "transform" in spec:  # the attribute, or the CSS property (SVG 2)
            ctm = multiply(ctm, self.transform_about(spec["transform"], spec.get(
                "transform-origin"), vp, where, st))
        if "opacity" in spec:
            opacity *= self.fraction(spec["opacity"], where)
        local = None
        if name in SHAPES:
            local = shape_path(el, name, vp, where, self.lim,
                               lambda v, r, d, w: self.length(v, r, d, w, st), self.path_error)
        if "clip-path" in spec and self.obox is None:  # a bounding box ignores clipping
            if local is not None:
                bbox = local.computeTightBounds()
            else:  # measured only if the clip needs it (objectBoundingBox units)
                def bbox():
                    return self.object_bbox(el, name, st, vp, depth, uses, where)
            clip = self.clip_of(spec["clip-path"], ctm, vp, clip, where, bbox)
        if spec.get("mask", "none").strip() != "none" and self.obox is None:
            region = self.mask_region(spec["mask"], ctm, vp, where)
            if region is None:
                self.drop("mask", where)
            else:
                clip = region if clip is None else (
                    self.work.op(clip, region, _INTERSECT, where) or skia.Path())
        if spec.get("filter", "none").strip() != "none":
            effects = self.filter_of(spec["filter"])
            if effects is None:
                self.drop("filter", where)
            elif self.obox is None and self.box is None:
                start = len(self.paths)
                self.walk_content(el, name, st, local, ctm, opacity, clip, vp, depth, uses,
                                  where, size_el)
                self.apply_effects(effects, start, ctm, where)
                return
        self.walk_content(el, name, st, local, ctm, opacity, clip, vp, depth, uses, where,
                          size_el)

    def walk_content(self, el, name: str, st: dict, local: skia.Path | None, ctm: Affine,
                     opacity: float, clip: skia.Path | None, vp: tuple[float, float],
                     depth: int, uses: tuple[str, ...], where: str, size_el) -> None:
        """Draw a shape, or walk a container's children (styles and clips resolved)."""
        if name in SHAPES:
            if any(st[k].strip() != "none" for k in ("marker-start", "marker-mid", "marker-end")):
                self.drop("marker", where)
            if local is not None and not local.isEmpty():
                self.emit(local, st, ctm, opacity, clip, where, name not in ("line",), vp)
            return
        if name == "use":
            self.walk_use(el, st, ctm, opacity, clip, vp, depth, uses, where)
            return
        if name == "svg" and depth > 0:
            ctm, clip, vp = self.nested_viewport(el, size_el or el, ctm, clip, vp, where)
        if name not in CONTAINERS and name != "svg":
            self.drop(f"element-{name}", where)
            return
        if name == "switch":  # only the first known, renderable child whose conditions hold
            el = [next((c for c in el if _localname(c) in _SWITCHABLE
                        and self.conditions_hold(c)), None)]
            if el[0] is None:
                return
        for child in el:
            self.walk(child, st, ctm, opacity, clip, vp, depth + 1, uses)

    # -- filter effects ----------------------------------------------------------------
    def filter_of(self, value: str) -> FilterEffects | None:
        """The recognised effects of a `filter: url(#id)`, when effects are kept."""
        if not (self.opt.gradients and self.opt.effects):
            return None
        ref = _iri(value.strip())
        target = self.ids.get(ref) if ref else None
        if target is None or _localname(target) != "filter":
            return None
        if target not in self.filters:
            self.filters[target] = filter_effects(target)
        return self.filters[target]

    def apply_effects(self, fx: FilterEffects, start: int, ctm: Affine, where: str) -> None:
        """Give the paths drawn since `start` (an element's content) the effects of its
        filter: drop shadows before them and inner shadows after them, each a path of the
        content's outline; then the blur on every one of them."""
        drawn = self.paths[start:]
        if not drawn:
            return
        self.n_effects -= sum(p.effect is not None for p in drawn)  # recounted below
        a, b, c, d = ctm[:4]
        k = math.sqrt(abs(a * d - b * c))  # user → canvas lengths (sigma)
        if fx.shadows:
            outline = self.outline(drawn, where)
            under, over = [], []
            for sh in fx.shadows:
                dx, dy = a * sh.dx + c * sh.dy, b * sh.dx + d * sh.dy
                if sh.sigma * k <= 0 and sh.inner:
                    continue  # an unblurred inner shadow without offset shows nothing
                effect = Effect("inner" if sh.inner else "blur", max(sh.sigma * k, 1e-3), dx,
                                dy, sh.alpha)
                (over if sh.inner else under).append(Path(outline.commands, sh.color,
                                                          outline.fill_rule, None, effect))
            drawn = [*under, *drawn, *over]
            self.paths[start:] = drawn
        if fx.blur * k > 0:
            sigma = fx.blur * k
            for i in range(start, len(self.paths)):
                p = self.paths[i]
                e = p.effect
                if e is None:
                    e = Effect("blur", sigma)
                elif e.kind == "blur":  # blurs compose: variances add
                    e = replace(e, sigma=math.hypot(e.sigma, sigma))
                else:
                    continue  # an inner shadow is not blurred again (kept sharp)
                self.paths[i] = replace(p, effect=e)
        self.n_effects += sum(p.effect is not None for p in self.paths[start:])
        if self.n_effects > MAX_EFFECTS:
            raise SvgLimitError(f"more than {MAX_EFFECTS} filtered paths", reason="effects",
                                where=f"{self.where} {where}".strip())

    def outline(self, paths: list[Path], where: str) -> Path:
        """One path covering `paths` (the coverage a filter's SourceAlpha sees): the path
        itself when all share one geometry (as design tools stack fills), else their union."""
        first = paths[0]
        if all(p.commands == first.commands and p.fill_rule == first.fill_rule for p in paths):
            return first
        union = None
        for p in paths:
            sk = commands_to_skia(p.commands, p.fill_rule)
            union = sk if union is None else (self.work.op(union, sk, _UNION, where) or union)
        return Path(tuple(skia_to_commands(union, self.arcs, self.curve_tolerance)),
                    (0, 0, 0), fill_rule_of(union))

    def object_bbox(self, el, name: str, st: dict, vp, depth: int, uses: tuple, where: str
                    ) -> skia.Rect | None:
        """The object bounding box of a container or <use> in its own user space: the fill
        geometry of every shape in it that is not display:none (invisible ones count), as
        SVG defines it. A walk that measures and draws nothing."""
        saved = self.paths, self.obox, len(self.dropped)
        self.paths, self.obox = [], skia.Rect.MakeEmpty()
        try:
            if name == "use":
                self.walk_use(el, st, IDENTITY, 1.0, None, vp, depth, uses, where)
            elif name in CONTAINERS:
                for child in el:
                    self.walk(child, st, IDENTITY, 1.0, None, vp, depth + 1, uses)
            box = self.obox
        finally:
            self.paths, self.obox = saved[0], saved[1]
            del self.dropped[saved[2]:]
        return None if box.isEmpty() else box

    def conditions_hold(self, el) -> bool:
        """SVG conditional processing: requiredExtensions names none svgrl supports (an empty
        list fails too); systemLanguage must name one of the reader's languages, or a
        dialect of one (en matches en-US). requiredFeatures is always true (SVG 2)."""
        if el.get("requiredExtensions") is not None:
            return False
        langs = el.get("systemLanguage")
        if langs is None:
            return True
        for tag in langs.split(","):
            tag = tag.strip().lower()
            for mine in self.opt.languages:
                if tag == mine or tag.startswith(mine + "-") or mine.startswith(tag + "-"):
                    return True
        return False

    def nested_viewport(self, el, size_el, ctm, clip, vp, where):
        """Viewport of a nested <svg> or instanced <symbol>: place, scale and clip."""
        x = self.length(size_el.get("x"), vp[0], 0, where)
        y = self.length(size_el.get("y"), vp[1], 0, where)
        w = self.length(size_el.get("width"), vp[0], vp[0], where)
        h = self.length(size_el.get("height"), vp[1], vp[1], where)
        vb = parse_numbers(el.get("viewBox"), where) if el.get("viewBox") else None
        if vb is not None and (len(vb) != 4 or vb[2] <= 0 or vb[3] <= 0):
            vb = None
        ctm = multiply(ctm, translate(x, y))
        if el.get("overflow", "hidden") not in ("visible", "auto"):
            r = skia.Path()
            r.addRect(skia.Rect.MakeXYWH(0, 0, w, h))
            r.transform(_matrix(ctm))
            clip = r if clip is None else (
                self.work.op(clip, r, _INTERSECT, where) or skia.Path())
        ctm = multiply(ctm, viewport_transform(vb, w, h, el.get("preserveAspectRatio")))
        return ctm, clip, ((vb[2], vb[3]) if vb else (w, h))

    def walk_use(self, el, st, ctm, opacity, clip, vp, depth, uses, where) -> None:
        href = (el.get("href") or el.get(XLINK_HREF) or "").strip()
        if not href.startswith("#"):
            if href:
                raise SvgUnsafeError(f"external reference {href!r}", reason="external-ref",
                                     where=where)
            return
        ref = href[1:]
        self.use_budget -= 1
        if self.use_budget < 0:
            raise SvgLimitError(f"more than {self.lim.max_use_instances:,} <use> "
                                "instantiations", reason="elements", where=where)
        if self.recursive is not None and el in self.recursive:
            self.drop("use-recursive", where)  # SVG 2: a recursive <use> is not rendered
            return
        if ref in uses:
            if self.recursive is None:
                raise _Recursion  # find every recursive <use> once, then walk again
            self.drop("use-recursive", where)
            return
        target = self.ids.get(ref)
        if target is None:
            self.drop("use-missing", where)
            return
        x = self.length(el.get("x"), vp[0], 0, where)
        y = self.length(el.get("y"), vp[1], 0, where)
        ctm = multiply(ctm, translate(x, y))
        tname = _localname(target)
        if tname == "symbol":
            spec = self.specified(target, "symbol")  # the symbol's own style applies too
            st = _inherit(st, spec)
            if "opacity" in spec:
                opacity *= self.fraction(spec["opacity"], where)
            ctm, clip, vp2 = self.nested_viewport(target, _Sized(el, target, False), ctm, clip,
                                                  vp, where)
            self.spend(where)
            for child in target:
                self.walk(child, st, ctm, opacity, clip, vp2, depth + 1, (*uses, ref))
            return
        self.walk(target, st, ctm, opacity, clip, vp, depth + 1, (*uses, ref), name=tname,
                  size_el=_Sized(el, target, True) if tname == "svg" else None)


class _Sized:
    """The viewport of a <symbol> or <svg> instanced by <use>: width and height on the <use>
    override the target's (SVG 2 §5.6.2), defaulting to 100 %; x/y are the <svg>'s own
    (a symbol's position is the <use>'s x/y, already applied)."""

    def __init__(self, use, target, own_xy: bool):
        self.use, self.target, self.own_xy = use, target, own_xy

    def get(self, key, default=None):
        if key in ("x", "y"):
            return self.target.get(key, default) if self.own_xy else None
        v = self.use.get(key)
        return v if v is not None else self.target.get(key, default)


class _Recursion(Exception):
    """A <use> reached an element it is part of; raised once per document to find all."""


def simplify_tree(root, options: SimplifyOptions | None = None, where: str = "") -> SimplifyResult:
    """Turn a parsed `<svg>` root into a `Drawing` normalised into an output_size square
    (aspect ratio preserved, centred)."""
    opt = options or SimplifyOptions()
    walker = _Walker(root, opt, where)
    w, h, vb = canvas(root, opt, where, walker.drop)
    size = opt.output_size
    if not (w > 0 and h > 0):  # SVG: a zero or negative size disables rendering
        walker.drop("empty-canvas", f"{where} width={w!r} height={h!r}".strip())
        return SimplifyResult(Drawing(size, size, ()), tuple(walker.dropped))
    # Normalisation into the output square is folded into the root transform, so
    # coordinates are computed once, already where they belong.
    k = size / max(w, h)
    if not math.isfinite(k) or k == 0:
        raise SvgLimitError(f"viewport {w!r} × {h!r} cannot be scaled to {size!r} units",
                            reason="magnitude", where=where)
    tx, ty = (size - w * k) / 2, (size - h * k) / 2
    ctm = multiply((k, 0.0, 0.0, k, tx, ty),
                   viewport_transform(vb, w, h, root.get("preserveAspectRatio")))
    _walk_document(walker, root, ctm, (vb[2], vb[3]) if vb else (w, h),
                   (tx, ty, tx + w * k, ty + h * k))
    _background(walker, root)
    drawing = Drawing(size, size, tuple(walker.paths))
    if not opt.gradients:
        drawing = fit_flat(drawing)  # no-op without gradients ('mean' keeps none)
    return SimplifyResult(drawing, tuple(walker.dropped))


def _background(walker: _Walker, root) -> None:
    """A CSS background-color on the root <svg> (in its style) fills the canvas first."""
    style = root.get("style")
    value = next((v for k, v in split_declarations(style)[0] if k == "background-color"),
                 None) if style and "background" in style else None
    if value is None:
        return
    try:
        rgba = parse_color(value)
    except SvgValueError:
        walker.drop("bad-color", f"<svg> background-color={value!r}")
        return
    if rgba[3] >= walker.opt.min_alpha:
        n = len(walker.paths)
        walker.add(walker.view_path, _composite(rgba, rgba[3]), None)
        walker.paths[:] = walker.paths[n:] + walker.paths[:n]


def _walk_document(walker: _Walker, root, ctm: Affine, vp: tuple[float, float],
                   view: tuple[float, float, float, float]) -> None:
    root_style = dict(INHERITED)
    root_style["color"] = walker.opt.current_color
    rem = walker.specified(root, "svg").get("font-size")
    rem_px = float(walker.font_size(rem, "16", "<svg>")) if rem else 16.0
    walker.units = LengthContext(rem_px, rem_px, *vp)
    walker.view = view
    walker.view_path = skia.Path()
    walker.view_path.addRect(skia.Rect.MakeLTRB(*view))
    try:
        walker.walk(root, root_style, ctm, 1.0, None, vp, 0, ())
    except _Recursion:
        walker.restart(recursive_uses(root))
        walker.walk(root, root_style, ctm, 1.0, None, vp, 0, ())


def canvas(root, options: SimplifyOptions, where: str = "",
           drop: Callable[[str, str], None] | None = None
           ) -> tuple[float, float, list[float] | None]:
    """(width, height, viewBox) of the root canvas. A document with neither a viewBox nor an
    absolute size spans from the origin to the far corner of its content's bounding box
    (what resvg draws; a browser would crop to its window)."""
    w, h, vb = root_viewport(root, options.limits, where, drop)
    if vb is None and w > 0 and h > 0 and not has_intrinsic_size(root):
        walker = _Walker(root, options, where)
        walker.box = skia.Rect.MakeEmpty()
        big = options.limits.max_abs
        _walk_document(walker, root, IDENTITY, (w, h), (-big, -big, big, big))
        if walker.box.right() > 0 and walker.box.bottom() > 0:
            w, h = walker.box.right(), walker.box.bottom()
    return w, h, vb
