"""Each supported element and attribute, rendered by us and by resvg, compared by pixels."""

import pytest
from helpers.svg import svg

CASES = {
    # path data: every command, absolute and relative
    "path-abs-lines": svg('<path d="M10 10 L90 10 L90 90 H50 V60 L10 90 Z"/>'),
    "path-rel-lines": svg('<path d="m10 10 l80 0 l0 80 h-40 v-30 l-40 30 z"/>'),
    "path-cubic-smooth": svg('<path d="M10 50 C10 10 40 10 50 50 S90 90 90 50 Z"/>'),
    "path-rel-cubic": svg('<path d="M10 50 c0 -40 30 -40 40 0 s40 40 40 0 z"/>'),
    "path-quad-smooth": svg('<path d="M10 50 Q30 0 50 50 T90 50 V90 H10 Z"/>'),
    "path-rel-quad": svg('<path d="M10 50 q20 -50 40 0 t40 0 v40 h-80 z"/>'),
    "path-arcs": svg('<path d="M20 50 A30 20 0 0 1 80 50 A30 30 0 1 0 20 50 Z"/>'),
    "path-rel-arc-rotated": svg('<path d="M20 60 a35 15 30 1 1 60 0 z"/>'),
    "path-packed-flags": svg('<path d="M20 50a30 30 0 1190 0z"/>', 'viewBox="0 0 120 100"'),
    "path-implicit-lineto": svg('<path d="M10 10 90 10 50 90z"/>'),
    "path-subpaths-evenodd": svg(
        '<path fill-rule="evenodd" d="M10 10H90V90H10Z M30 30H70V70H30Z"/>'),
    "path-subpaths-nonzero": svg('<path d="M10 10H90V90H10Z M30 30V70H70V30Z"/>'),
    # shapes
    "rect": svg('<rect x="10" y="20" width="70" height="50"/>'),
    "rect-rx": svg('<rect x="10" y="20" width="70" height="50" rx="15"/>'),
    "rect-rx-ry": svg('<rect x="10" y="20" width="70" height="50" rx="20" ry="8"/>'),
    "rect-ry-only": svg('<rect x="10" y="20" width="70" height="50" ry="12"/>'),
    "circle": svg('<circle cx="50" cy="50" r="35"/>'),
    "ellipse": svg('<ellipse cx="50" cy="50" rx="40" ry="20"/>'),
    "line": svg('<line x1="10" y1="10" x2="90" y2="80" stroke="black" stroke-width="6"/>'),
    "polyline": svg('<polyline points="10,90 30,10 50,90 70,10 90,90" fill="none" '
                    'stroke="#c00" stroke-width="4"/>'),
    "polygon": svg('<polygon points="50,5 95,95 5,95"/>'),
    "percent-lengths": svg('<rect x="10%" y="20%" width="50%" height="30%"/>'),
    # groups, transforms
    "g-inherit-fill": svg('<g fill="#0a0"><rect x="10" y="10" width="30" height="30"/>'
                          '<circle cx="70" cy="70" r="20"/></g>'),
    "matrix": svg('<rect width="40" height="30" transform="matrix(1 0.3 -0.2 1 30 20)"/>'),
    "translate-scale": svg('<g transform="translate(10 20) scale(2 1.5)">'
                           '<rect width="30" height="30"/></g>'),
    "rotate-center": svg('<rect x="30" y="30" width="40" height="20" '
                         'transform="rotate(30 50 40)"/>'),
    "skew": svg('<rect x="20" y="20" width="40" height="40" transform="skewX(20) skewY(10)"/>'),
    "nested-transforms": svg('<g transform="translate(50 50)"><g transform="rotate(45)">'
                             '<rect x="-20" y="-20" width="40" height="40"/></g></g>'),
    # use / defs / symbol
    "use-defs": svg('<defs><rect id="r" width="20" height="20"/></defs>'
                    '<use href="#r" x="10" y="10"/><use xlink:href="#r" x="60" y="50" '
                    'fill="blue"/>'),
    "use-symbol-viewbox": svg('<symbol id="s" viewBox="0 0 10 10"><circle cx="5" cy="5" r="4"/>'
                              '</symbol><use href="#s" x="10" y="10" width="80" height="40"/>'),
    "use-transform": svg('<defs><path id="p" d="M0 0H30V10Z"/></defs>'
                         '<use href="#p" transform="rotate(20) translate(30 20)"/>'),
    # styling
    "style-attribute": svg('<rect x="10" y="10" width="80" height="80" '
                           'style="fill:#36c; stroke:#000; stroke-width:4"/>'),
    "style-sheet": svg('<style>rect{fill:red} .b{fill:#00f} #c{fill:green}</style>'
                       '<rect x="5" y="5" width="25" height="25"/>'
                       '<rect class="b" x="35" y="5" width="25" height="25"/>'
                       '<rect id="c" class="b" x="65" y="5" width="25" height="25"/>'),
    "style-specificity-vs-attr": svg('<style>.a{fill:orange}</style>'
                                     '<circle class="a" fill="black" cx="50" cy="50" r="30"/>'),
    "current-color": svg('<g color="#e60"><circle cx="50" cy="50" r="30" fill="currentColor" '
                         'stroke="currentColor" stroke-width="0"/></g>'),
    "opacity-group": svg('<g opacity="0.5"><rect x="10" y="10" width="80" height="80" '
                         'fill="#00f"/></g>'),
    "fill-opacity": svg('<rect x="10" y="10" width="80" height="80" fill="red" '
                        'fill-opacity="0.3"/>'),
    "rgba-and-named": svg('<rect x="10" y="10" width="40" height="80" fill="rgba(0,128,0,0.5)"/>'
                          '<rect x="50" y="10" width="40" height="80" fill="tomato"/>'),
    "hsl": svg('<rect x="10" y="10" width="80" height="80" fill="hsl(200, 60%, 40%)"/>'),
    # strokes
    "stroke-round": svg('<path d="M15 80 L50 20 L85 80" fill="none" stroke="#000" '
                        'stroke-width="10" stroke-linecap="round" stroke-linejoin="round"/>'),
    "stroke-square-bevel": svg('<path d="M15 80 L50 20 L85 80" fill="none" stroke="#000" '
                               'stroke-width="10" stroke-linecap="square" '
                               'stroke-linejoin="bevel"/>'),
    "stroke-miter-limit": svg('<path d="M10 80 L50 60 L90 80" fill="none" stroke="#000" '
                              'stroke-width="8" stroke-miterlimit="10"/>'),
    "stroke-dash": svg('<path d="M10 50 H90" stroke="#000" stroke-width="8" '
                       'stroke-dasharray="10 5"/>'),
    "stroke-scaled": svg('<g transform="scale(4)"><circle cx="12.5" cy="12.5" r="8" fill="none" '
                         'stroke="#000" stroke-width="2"/></g>'),
    "stroke-nonuniform": svg('<g transform="scale(3 1)"><circle cx="16" cy="50" r="10" '
                             'fill="none" stroke="#000" stroke-width="3"/></g>'),
    "stroke-opacity": svg('<circle cx="50" cy="50" r="30" fill="none" stroke="#00f" '
                          'stroke-width="12" stroke-opacity="0.4"/>'),
    # viewports
    "viewbox-offset": svg('<rect x="110" y="110" width="60" height="60"/>',
                          'viewBox="100 100 100 100"'),
    "width-height-only": svg('<rect x="10" y="10" width="30" height="20"/>',
                             'width="50" height="40"'),
    "units-mm": svg('<rect x="2" y="2" width="10" height="5"/>', 'width="20mm" height="10mm" '
                    'viewBox="0 0 20 10"'),
    "par-xmin-meet": svg('<rect width="100" height="100" fill="#0a0"/>',
                         'viewBox="0 0 100 100" width="200" height="100" '
                         'preserveAspectRatio="xMinYMid meet"'),
    "par-slice": svg('<circle cx="50" cy="50" r="50"/>', 'viewBox="0 0 100 100" width="200" '
                     'height="100" preserveAspectRatio="xMidYMid slice"'),
    "par-none": svg('<circle cx="50" cy="50" r="45"/>', 'viewBox="0 0 100 100" width="200" '
                    'height="100" preserveAspectRatio="none"'),
    "nested-svg": svg('<svg x="20" y="20" width="60" height="60" viewBox="0 0 10 10">'
                      '<circle cx="5" cy="5" r="6"/></svg>'),
    "overflow-clipped": svg('<circle cx="100" cy="50" r="40"/>'),
    # clipping
    "clip-path": svg('<clipPath id="c"><circle cx="50" cy="50" r="30"/></clipPath>'
                     '<rect width="100" height="100" fill="#c0c" clip-path="url(#c)"/>'),
    "clip-path-transform": svg('<clipPath id="c"><rect x="0" y="0" width="50" height="50" '
                               'transform="rotate(20 25 25)"/></clipPath>'
                               '<g clip-path="url(#c)" transform="translate(20 20)">'
                               '<circle cx="25" cy="25" r="30"/></g>'),
    "display-none": svg('<rect width="50" height="50" display="none"/>'
                        '<rect x="50" y="50" width="40" height="40"/>'),
    "visibility-hidden": svg('<g visibility="hidden"><rect width="50" height="50"/></g>'
                             '<rect x="50" y="50" width="40" height="40"/>'),
    "switch-first-child": svg('<switch><rect x="10" y="10" width="40" height="40"/>'
                              '<circle cx="70" cy="70" r="20"/></switch>'),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_resvg(name, assert_matches_resvg):
    assert_matches_resvg(CASES[name])
