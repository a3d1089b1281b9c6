"""What every matplotlib picture shares: loading the optional matplotlib, file formats and sizes,
colour-blind-safe colours, and fonts that cover the characters drawn.

Fonts: words may be in any script the tokenizer keeps (letters and digits of all of Unicode),
and matplotlib's default font covers Latin, Greek and Cyrillic only. :func:`covering_fonts`
reads the character map of every font matplotlib knows and lists, after the default, the fewest
fonts that hold the missing characters; matplotlib then falls back along that list glyph by
glyph. Characters no installed font holds are reported, so callers can say so instead of
silently drawing boxes.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from embedkit.errors import EmbedkitError, ParameterError
from embedkit.io import atomic_output

INSTALL_HINT = "pip install 'embedkit[plot]'"
#: Pixels per inch of every picture: a --size in pixels is the PNG's size exactly.
DPI = 100
#: Okabe and Ito's palette (2008), distinguishable with every common colour-vision deficiency;
#: yellow last, as it is faint on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000",
           "#F0E442")
#: Markers paired with the colours, so runs stay apart in grey print too.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Fonts never used for words: placeholder boxes (Last Resort) and TeX fonts whose character
#: maps put symbols at the code points of letters.
NOT_FOR_WORDS = re.compile(r"Last Resort|cm[a-z]+\d+$|STIXNonUnicode|STIXSize")
#: Characters listed by name in a missing-glyph message before "and N more".
SHOWN_MISSING = 5


def plotting_available() -> bool:
    """Whether matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def require_matplotlib() -> None:
    """Raise the one-line error naming the ``plot`` extra when matplotlib is missing.

    Raises
    ------
    EmbedkitError
        Without matplotlib.
    """
    if not plotting_available():
        raise EmbedkitError(f"drawing pictures needs matplotlib: {INSTALL_HINT}")


def plot_format(path: str | os.PathLike, formats: Iterable[str] = ("png", "svg")) -> str:
    """The format of a picture file from its extension: one of ``formats``.

    Raises
    ------
    EmbedkitError
        For any other extension, naming the file and the accepted ones.
    """
    formats = tuple(formats)
    extension = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if extension not in formats:
        names = [f".{fmt}" for fmt in formats]
        raise EmbedkitError(f"{os.fspath(path)}: picture files must end in "
                            f"{', '.join(names[:-1])} or {names[-1]}")
    return extension


#: The largest side of a picture: an 8000 × 8000 image already holds 256 MB of pixels.
MAX_PIXELS = 8000


def parse_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` in pixels, e.g. ``900x600``, as two integers.

    Raises
    ------
    EmbedkitError
        When the text is not two integers from 100 to :data:`MAX_PIXELS` joined by ``x``.
    """
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match or not all(100 <= int(side) <= MAX_PIXELS for side in match.groups()):
        raise ParameterError(f"{text!r}: expected WIDTHxHEIGHT in pixels, each from 100 to "
                             f"{MAX_PIXELS}, e.g. 900x600", params=("size",))
    return int(match[1]), int(match[2])


@dataclass(frozen=True)
class Fonts:
    """The font families to draw with (default first) and the characters none of them holds."""

    families: tuple[str, ...]
    missing: tuple[str, ...]


@functools.cache
def _charmap(path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font
    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):  # a font file FreeType cannot read
        return frozenset()


def _candidates() -> dict[str, str]:
    """Upright font families matplotlib knows, each with its file closest to regular weight."""
    from matplotlib import font_manager

    best: dict[str, tuple[int, str]] = {}
    for entry in font_manager.fontManager.ttflist:
        if entry.style != "normal" or NOT_FOR_WORDS.match(entry.name):
            continue
        weight = entry.weight if isinstance(entry.weight, int) else 400
        distance = abs(weight - 400)
        if entry.name not in best or distance < best[entry.name][0]:
            best[entry.name] = (distance, entry.fname)
    return {name: fname for name, (_, fname) in sorted(best.items())}


def covering_fonts(texts: Iterable[str]) -> Fonts:
    """The default sans-serif font, then the fewest fonts holding the characters it lacks.

    Greedy set cover: each step adds the font holding most of the characters still missing.
    """
    from matplotlib import font_manager

    needed = {ord(c) for text in texts for c in text if not c.isspace()}
    default = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]))
    primary = font_manager.FontProperties(fname=default).get_name()
    families = [primary]
    missing = needed - _charmap(default)
    if missing:
        candidates = _candidates()
        candidates.pop(primary, None)
        while missing and candidates:
            name, covered = max(((name, missing & _charmap(path))
                                 for name, path in candidates.items()),
                                key=lambda item: len(item[1]))
            if not covered:
                break
            families.append(name)
            missing -= covered
            del candidates[name]
    return Fonts(tuple(families), tuple(chr(c) for c in sorted(missing)))


def missing_glyphs_message(missing: Iterable[str]) -> str:
    """The warning for characters no installed font holds (they are drawn as boxes)."""
    missing = list(missing)
    shown = ", ".join(f"{c!r} (U+{ord(c):04X} {unicodedata.name(c, 'unnamed')})"
                      for c in missing[:SHOWN_MISSING])
    more = f" and {len(missing) - SHOWN_MISSING} more" if len(missing) > SHOWN_MISSING else ""
    return (f"no installed font has glyphs for {shown}{more}: they are drawn as boxes; "
            "install a font that covers them (e.g. Debian's fonts-noto-core or "
            "fonts-noto-cjk)")


@contextlib.contextmanager
def drawing(texts: Iterable[str]) -> Iterator[Fonts]:
    """Settings for drawing a picture whose text is ``texts``: figures made inside the block
    use the colour-blind-safe palette and fonts covering those characters, SVG keeps text as
    text (searchable, and the viewer's fonts fill any gap) and PDF embeds TrueType fonts.

    Yields the :class:`Fonts`; matplotlib's own missing-glyph warnings are silenced, since
    ``Fonts.missing`` reports them once.

    Raises
    ------
    EmbedkitError
        Without matplotlib.
    """
    require_matplotlib()
    import matplotlib
    matplotlib.use("Agg")  # files only, never a window
    from cycler import cycler

    fonts = covering_fonts(texts)
    settings: dict = {"font.family": list(fonts.families), "svg.fonttype": "none",
                "pdf.fonttype": 42, "axes.prop_cycle": cycler(color=PALETTE),
                "svg.hashsalt": "embedkit"}  # same ids in every run: reproducible files
    with matplotlib.rc_context(settings), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
        yield fonts


def save_figure(figure, path: str | os.PathLike, fmt: str) -> None:
    """Write ``figure`` atomically in ``fmt`` at :data:`DPI` (no tight bounding box, so a PNG
    has exactly the figure's size in pixels)."""
    with atomic_output(path, binary=True) as out:
        figure.savefig(out, format=fmt, dpi=DPI)
