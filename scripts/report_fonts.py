"""Write reports/fonts/: DejaVu Sans and DejaVu Sans Bold cut down to the characters a Vietnamese
report uses, renamed "DejaVu Sans VN" (the DejaVu licence asks a changed font to change its name).

Why: matplotlib embeds the fonts of a PDF by subsetting the font file it drew with, once per
font and character range; with the whole DejaVu Sans (6,000 glyphs and their layout tables)
that was a third of the time it takes to write a report's PDF. Cut to about 1,100 glyphs, the
same text comes out the same (same outlines, hinting, kerning and layout tables), in less
time. Text with a character outside the cut falls back to the full DejaVu Sans (reports/charts.py).

    .venv/bin/python scripts/report_fonts.py     # reads matplotlib's own copy of DejaVu
"""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib
from fontTools import subset
from fontTools.ttLib import TTFont

OUT = Path(__file__).resolve().parent.parent / "reports" / "fonts"
FAMILY = "DejaVu Sans VN"
SOURCES = {"DejaVuSans.ttf": "DejaVuSansVN.ttf", "DejaVuSans-Bold.ttf": "DejaVuSansVN-Bold.ttf"}
# Latin (with Vietnamese's Ơ ơ Ư ư in Latin Extended-B and its tone marks in Latin Extended
# Additional), combining marks, punctuation, currency (₫), and the symbols matplotlib writes
# itself (− for negative numbers) or a label may use.
UNICODES = [
    *range(0x20, 0x7F), *range(0xA0, 0x250), *range(0x300, 0x370), *range(0x1E00, 0x1F00),
    *range(0x2000, 0x2070), *range(0x20A0, 0x20C0),
    0x2116, 0x2122, 0x2190, 0x2191, 0x2192, 0x2193, 0x2212, 0x2248, 0x2260, 0x2264, 0x2265, 0x25CF,
    0x2713, 0x2714, 0x2717,
]


def cut(source: Path, target: Path) -> None:
    font = TTFont(source, recalcTimestamp=False)  # the same bytes on every run
    options = subset.Options()
    options.drop_tables += ["FFTM", "MATH"]  # FontForge's time stamp; formulas are not drawn with it
    options.layout_features = ["*"]  # keep kerning and every layout rule of the kept glyphs
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = True
    options.hinting = True  # the PNG charts are drawn with hinting: keep it, so they do not change
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=UNICODES)
    subsetter.subset(font)
    for record in font["name"].names:
        text = record.toUnicode()
        if record.nameID in (1, 3, 4, 16):
            record.string = text.replace("DejaVu Sans", FAMILY)
        elif record.nameID == 6:  # PostScript name: no spaces
            record.string = text.replace("DejaVuSans", FAMILY.replace(" ", ""))
    font.save(target)


def main() -> None:
    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    OUT.mkdir(exist_ok=True)
    for source, target in SOURCES.items():
        cut(ttf / source, OUT / target)
        print(OUT / target, (OUT / target).stat().st_size, "bytes")
    shutil.copyfile(ttf / "LICENSE_DEJAVU", OUT / "LICENSE")


if __name__ == "__main__":
    main()
