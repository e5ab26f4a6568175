"""TeX formulas drawn when the feedback page is made, so that the page needs no MathJax.

nbgrader's feedback loads MathJax from a CDN, so offline a student sees ``$$\\frac{...}$$``.
Here matplotlib's mathtext draws each formula as an SVG image, embedded in the page (a
``data:`` URL, so the page stays one file), sized in ``em`` to follow the text and set on its
baseline; its ``alt`` text is the TeX source. Spellings mathtext lacks are rewritten first
(``\\bigl(`` as ``(``, ``\\qquad`` as two ``\\quad``, line breaks as spaces, and in display
formulas ``\\frac`` as ``\\dfrac``, since mathtext has no display style); a formula it still
cannot draw (an ``aligned`` environment, say) is shown as its TeX source, in code type.
"""

import base64
import functools
import html
import io
import re

SIZE = 100.0  # points: mathtext draws at this size (its boxes in whole points), shown as SCALE em
SCALE = 1.2  # Computer Modern's letters are smaller than the page's sans serif at one size
FONTS = "cm"  # mathtext's Computer Modern: the look of TeX and MathJax
REWRITES = [  # (what mathtext lacks, what means the same to it)
    (re.compile(r"\\[Bb]igg?[lrm]?(?![A-Za-z])"), ""),  # \bigl( \Bigr] ...: the bare delimiter
    (re.compile(r"\\qquad(?![A-Za-z])"), r"\\quad\\quad"),
    (re.compile(r"\s+"), " "),  # a line break inside the formula
]
# Students' written answers are drawn too, in the instructor's process: a formula longer than
# this (the course's longest is 128 characters) is shown as its TeX, since drawing 2,000
# characters takes seconds and 200 kB.
MAX_TEX = 600
DISPLAY_FRAC = (re.compile(r"\\frac(?![A-Za-z])"), r"\\dfrac")  # TeX's display style


def for_mathtext(tex, display=False):
    """``tex`` in the TeX that mathtext reads."""
    for pattern, replacement in [*REWRITES, DISPLAY_FRAC] if display else REWRITES:
        tex = pattern.sub(replacement, tex)
    return tex.strip()


@functools.lru_cache(maxsize=4096)
def draw(tex):
    """``(svg, width, depth)`` of ``tex`` (TeX that mathtext reads), sizes in em (depth:
    below the baseline); ValueError when mathtext cannot draw it."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    text = f"${tex}$"
    prop = FontProperties(size=SIZE, math_fontfamily=FONTS)
    width, height, depth, _, _ = MathTextParser("path").parse(text, dpi=72, prop=prop)
    if not width or not height:
        raise ValueError(f"nothing to draw in {tex!r}")
    figure = Figure(figsize=(width / 72, height / 72))  # as matplotlib.mathtext.math_to_image
    figure.text(0, depth / height, text, fontproperties=prop)
    svg = io.BytesIO()
    no_metadata = dict.fromkeys(["Creator", "Date", "Format", "Type"])  # 0.5 kB a formula
    with rc_context({"svg.fonttype": "path", "svg.hashsalt": "feedback"}):  # same bytes each run
        figure.savefig(svg, format="svg", dpi=72, transparent=True, metadata=no_metadata)
    return svg.getvalue(), width * SCALE / SIZE, depth * SCALE / SIZE


def formula_html(tex, display=False):
    """The HTML that shows the formula ``tex`` (without its ``$`` delimiters)."""
    source = html.escape(" ".join(tex.split()))
    if len(tex) > MAX_TEX:
        return f'<code class="tex">{source}</code>'
    try:
        svg, width, depth = draw(for_mathtext(tex, display))
    except Exception:  # whatever mathtext makes of it, the page is still made, with the TeX
        return f'<code class="tex">{source}</code>'
    kind = "math display" if display else "math"
    data = base64.b64encode(svg).decode("ascii")
    return (f'<img class="{kind}" alt="{source}" src="data:image/svg+xml;base64,{data}" '
            f'style="width: {width:.3f}em; vertical-align: {-depth:.3f}em">')
