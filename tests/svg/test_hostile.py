"""Hostile and malformed input: a typed error naming the problem, fast, bounded memory,
and the batch goes on with the next file."""

import contextlib
import resource
import time

import pytest

from svgrl.errors import SvgError, SvgLimitError, SvgSyntaxError, SvgUnsafeError
from svgrl.svg.load import load_drawing
from svgrl.tokens.fidelity import FidelityConfig, fidelity

NS = 'xmlns="http://www.w3.org/2000/svg"'
GOOD = f'<svg {NS} viewBox="0 0 10 10"><rect width="5" height="5"/></svg>'.encode()


def _deep(n: int) -> bytes:
    return (f"<svg {NS}>" + "<g>" * n + '<rect width="1" height="1"/>' + "</g>" * n
            + "</svg>").encode()


def _laugh(i: int) -> bytes:
    prev = f"&lol{i - 1};" if i > 1 else "&lol;"
    return f'<!ENTITY lol{i} "{prev * 10}">'.encode()


def _use_level(i: int) -> bytes:
    use = f'<use href="#a{i - 1}"/>'
    return f'<g id="a{i}">{use * 10}</g>'.encode()


HOSTILE = {
    "xxe-file": (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                 b'<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>',
                 SvgUnsafeError, "entity"),
    "xxe-parameter": (b'<!DOCTYPE svg [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]>'
                      b'<svg xmlns="http://www.w3.org/2000/svg"/>', SvgUnsafeError, "entity"),
    "billion-laughs": (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                       + b"".join(_laugh(i) for i in range(1, 10))
                       + b']><svg xmlns="http://www.w3.org/2000/svg"><text>&lol9;</text></svg>',
                       SvgUnsafeError, "entity"),
    "deep-nesting": (_deep(10_000), SvgLimitError, "depth"),
    "huge-path": (f'<svg {NS}><path d="M0 0{" L1 1" * 2_100_000}"/></svg>'.encode(),
                  SvgLimitError, "file-size"),
    "1e308": (f'<svg {NS}><path d="M0 0 L 1e308 5 L 3 3 Z"/></svg>'.encode(),
              SvgLimitError, "magnitude"),
    "1e308-transform": (f'<svg {NS}><rect width="3" height="3" transform="scale(1e308)"/></svg>'
                        .encode(), SvgLimitError, "magnitude"),
    "invalid-utf8": (f'<svg {NS}><title>'.encode() + b"\xff\xfe\xc3\x28" + b"</title></svg>",
                     SvgSyntaxError, "encoding"),
    "empty": (b"", SvgSyntaxError, "empty-file"),
    "whitespace": (b"  \n ", SvgSyntaxError, "empty-file"),
    "not-xml": (b"plain text, not markup", SvgSyntaxError, "xml"),
    "pdf": (b"%PDF-1.4 binary", SvgSyntaxError, "not-svg"),
    "png": (b"\x89PNG\r\n\x1a\n binary", SvgSyntaxError, "not-svg"),
    "non-svg-xml": (b'<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', SvgSyntaxError,
                    "not-svg"),
    "script": (f'<svg {NS}><script>alert(1)</script><rect width="1" height="1"/></svg>'.encode(),
               SvgUnsafeError, "script"),
    "external-use": (f'<svg {NS}><use href="http://127.0.0.1:1/a.svg#x"/></svg>'.encode(),
                     SvgUnsafeError, "external-ref"),
    "external-paint": (f'<svg {NS}><rect width="1" height="1" fill="url(file:///etc/passwd#g)"/>'
                       f'</svg>'.encode(), SvgUnsafeError, "external-ref"),
    "css-import": (f'<svg {NS}><style>@import url(http://127.0.0.1:1/x.css);</style></svg>'
                   .encode(), SvgUnsafeError, "external-ref"),
    "use-bomb": (f'<svg {NS}><defs><rect id="a0" width="1" height="1"/>'.encode()
                 + b"".join(_use_level(i) for i in range(1, 9))
                 + b'</defs><use href="#a8"/></svg>', SvgLimitError, "elements"),
    # A digit run followed by junk made a whole-string regex backtrack exponentially.
    "digit-run-then-junk": (f'<svg {NS}><path d="M0 0L{"1" * 5000}x"/></svg>'.encode(),
                            SvgLimitError, "magnitude"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_a_typed_error(name):
    data, kind, reason = HOSTILE[name]
    t0 = time.process_time()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(kind) as info:
        load_drawing(data)
    # CPU time, not wall time: a busy machine must not fail the bound, a slow parser must.
    assert time.process_time() - t0 < 1.0, "hostile input must be rejected within 1 s"
    assert info.value.reason == reason, str(info.value)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    assert grown_mb < 200, f"peak memory grew by {grown_mb:.0f} MB"


@pytest.mark.parametrize("n, reason", [(600_000, "path-length"), (2_100_000, "xml-limit")])
def test_huge_path_within_raised_file_limit_still_hits_a_limit(n, reason):
    from svgrl.svg.parse import ParseLimits
    from svgrl.svg.simplify import SimplifyOptions

    data = f'<svg {NS}><path d="M0 0{" L1 1" * n}"/></svg>'.encode()
    opts = SimplifyOptions(limits=ParseLimits(max_bytes=64 << 20))
    t0 = time.process_time()
    with pytest.raises(SvgLimitError) as info:
        load_drawing(data, options=opts)
    assert info.value.reason == reason
    assert time.process_time() - t0 < 1.0


def test_batch_goes_on_after_hostile_files():
    items = [(name, data, None) for name, (data, _, _) in sorted(HOSTILE.items())]
    items.insert(3, ("good-1", GOOD, None))
    items.append(("good-2", GOOD, None))
    summary, results = fidelity(items, FidelityConfig(), progress=False)
    assert summary["ok"] == 2 and summary["failed"] == len(HOSTILE)
    assert {r.id for r in results if r.ssim is not None} == {"good-1", "good-2"}
    assert summary["errors"]["entity"] == 3


def test_errors_share_one_base_class():
    for _, kind, _ in HOSTILE.values():
        assert issubclass(kind, SvgError)


@pytest.mark.parametrize("css", [
    "a" * 1_000_000, "/*" * 300_000, "@" * 500_000, "{" * 300_000 + "}" * 300_000,
    ".a{fill:red}" * 50_000,
])
def test_hostile_style_sheets_parse_in_linear_time(css):
    data = f'<svg {NS}><style>{css}</style><rect class="a" width="5" height="5"/></svg>'.encode()
    t0 = time.process_time()
    with contextlib.suppress(SvgError):
        load_drawing(data)
    assert time.process_time() - t0 < 2.0
