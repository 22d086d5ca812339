"""What every printable PDF of ours needs: a TrueType font with Cyrillic, found without settings.

The lookup order: ``MZ_TICKET_FONT`` (environment), then the copy of DejaVu Sans that matplotlib ships (if it
is installed; located, not imported), then the usual system paths (Debian/Ubuntu ``fonts-dejavu-core``).
The kiosk ticket and the vaccination certificate both draw with it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_NAME = "MZDejaVuSans"
_SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
)


class FontUnavailable(Exception):
    """No TrueType font with Cyrillic was found: no PDF can be drawn here."""


def font_path() -> Path | None:
    candidates: list[str] = []
    if os.environ.get("MZ_TICKET_FONT"):
        candidates.append(os.environ["MZ_TICKET_FONT"])
    matplotlib = importlib.util.find_spec("matplotlib")  # located, not imported
    if matplotlib is not None and matplotlib.origin:
        candidates.append(str(Path(matplotlib.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"))
    candidates.extend(_SYSTEM_FONTS)
    return next((Path(c) for c in candidates if Path(c).is_file()), None)


def register_font() -> str:
    """Register the Cyrillic font with reportlab (once) and return its name; raises :class:`FontUnavailable`."""
    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        path = font_path()
        if path is None:
            raise FontUnavailable("no TrueType font with Cyrillic (DejaVu Sans) found")
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(path)))
    return FONT_NAME
