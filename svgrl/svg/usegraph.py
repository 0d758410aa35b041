"""The element graph of a document: recursive `<use>`s, and the tree's size and depth.

Elements are nodes; a parent points to its rendered children (a `<use>`'s own children are
not rendered) and a `<use>` to its target. SVG 2 says a `<use>` whose instance would
contain itself is not rendered (https://www.w3.org/TR/SVG2/struct.html#UseElement).
"""

from __future__ import annotations

from lxml import etree

from svgrl.svg.parse import SVG_NS, XLINK_HREF

_USE = (f"{{{SVG_NS}}}use", "use")


def _is_use(el) -> bool:
    return el.tag in _USE


def recursive_uses(root) -> set:
    """The <use> elements whose instance would contain themselves (directly, through other
    <use>s, or by referencing an ancestor): those SVG 2 says not to render. A <use> is
    recursive iff it lies on a cycle: a strongly connected component of more than one
    node, or a self-loop. Tarjan's algorithm, iterative: linear in elements + references."""
    ids: dict[str, etree._Element] = {}
    for el in root.iter():
        i = el.get("id") if isinstance(el.tag, str) else None
        if i and i not in ids:
            ids[i] = el

    def succ(el):
        if _is_use(el):
            href = (el.get("href") or el.get(XLINK_HREF) or "").strip()
            t = ids.get(href[1:]) if href.startswith("#") else None
            return [t] if t is not None else []
        return [c for c in el if isinstance(c.tag, str)]

    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    out: set = set()
    counter = 0
    for start in root.iter():
        if not isinstance(start.tag, str) or start in index:
            continue
        work = [(start, iter(succ(start)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(succ(nxt))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w is node:
                        break
                if len(comp) > 1 or node in succ(node):
                    out.update(c for c in comp if _is_use(c))
    return out


def size_and_depth(root) -> tuple[int, int]:
    """Number of elements and the deepest nesting of a tree, in one pass."""
    depth = {root: 1}
    deepest = 1
    for el in root.iterdescendants():
        d = depth[el.getparent()] + 1
        depth[el] = d
        deepest = max(deepest, d)
    return len(depth), deepest
