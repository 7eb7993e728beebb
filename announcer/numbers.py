"""Vietnamese words for ticket numbers and prefixes: pure functions, no I/O.

Whole-number reading follows the usual rules of spoken Vietnamese:

* units after ``mươi`` (20-99): 1 is ``mốt``, 5 is ``lăm``; after ``mười`` (10-19): 5 is ``lăm``;
* a hundred with no tens says ``linh`` (Northern) or ``lẻ`` (Southern) before its unit: 105
  ``một trăm linh năm``;
* a group below a thousand that is not the leading group is read in full, zero hundreds
  included: 1023 ``một nghìn không trăm hai mươi ba``, 1005 ``một nghìn không trăm linh năm``;
* a thousand is ``nghìn`` (Northern) or ``ngàn`` (Southern).

(num2words gets the thousands wrong, "một nghìn lẻ hai mươi ba": this module is the rule.)
The test vectors are tests/data/vi_numbers.tsv.
"""

from __future__ import annotations

import re
from typing import Literal

Dialect = Literal["northern", "southern"]
DIALECTS: tuple[Dialect, ...] = ("northern", "southern")

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# How the letters of a ticket prefix are read aloud (the names used when spelling in Vietnamese).
# Multi-word names are several words: each word is a clip of the voice pack.
LETTER_NAMES: dict[str, tuple[str, ...]] = {
    "A": ("a",), "B": ("bê",), "C": ("xê",), "D": ("dê",), "E": ("e",), "F": ("ép",),
    "G": ("giê",), "H": ("hát",), "I": ("i",), "J": ("gi",), "K": ("ca",), "L": ("e", "lờ"),
    "M": ("em", "mờ"), "N": ("en", "nờ"), "O": ("o",), "P": ("pê",), "Q": ("quy",), "R": ("e", "rờ"),
    "S": ("ét", "xì"), "T": ("tê",), "U": ("u",), "V": ("vê",), "W": ("vê", "kép"), "X": ("ích", "xì"),
    "Y": ("i", "dài"), "Z": ("dét",),
}

_TICKET = re.compile(r"^([A-Z]{0,3})([0-9]{1,6})$")


def _zero_link(dialect: Dialect) -> str:
    return "linh" if dialect == "northern" else "lẻ"


def _thousand(dialect: Dialect) -> str:
    return "nghìn" if dialect == "northern" else "ngàn"


def _tens_units(n: int) -> list[str]:
    """1..99 (never 0)."""
    tens, unit = divmod(n, 10)
    if tens == 0:
        return [DIGITS[unit]]
    words = ["mười"] if tens == 1 else [DIGITS[tens], "mươi"]
    if unit == 0:
        return words
    if unit == 5:
        return words + ["lăm"]
    if unit == 1 and tens >= 2:
        return words + ["mốt"]
    return words + [DIGITS[unit]]


def _group(n: int, dialect: Dialect, full: bool) -> list[str]:
    """0 < n < 1000. ``full``: a group after a higher one, whose zero hundreds are said."""
    hundreds, rest = divmod(n, 100)
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    if rest == 0:
        return words
    if rest < 10 and words:
        return words + [_zero_link(dialect), DIGITS[rest]]
    return words + _tens_units(rest)


def number_words(n: int, dialect: Dialect = "northern") -> list[str]:
    """The words of ``n`` (0 <= n <= 999 999 999) read as a whole number."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")
    if n < 0 or n > 999_999_999:
        raise ValueError(f"{n} is out of range")
    if n == 0:
        return [DIGITS[0]]
    millions, rest = divmod(n, 1_000_000)
    thousands, units = divmod(rest, 1000)
    words: list[str] = []
    if millions:
        words += _group(millions, dialect, full=False) + ["triệu"]
    if thousands:
        words += _group(thousands, dialect, full=bool(words)) + [_thousand(dialect)]
    if units:
        words += _group(units, dialect, full=bool(words))
    return words


def digit_words(digits: str) -> list[str]:
    """Digit by digit: '1023' -> một không hai ba."""
    if not digits.isdigit():
        raise ValueError(f"{digits!r} is not a string of digits")
    return [DIGITS[int(d)] for d in digits]


def letter_words(letters: str) -> list[str]:
    words: list[str] = []
    for ch in letters.upper():
        if ch not in LETTER_NAMES:
            raise ValueError(f"no Vietnamese name for letter {ch!r}")
        words += LETTER_NAMES[ch]
    return words


def ticket_words(ticket: str, dialect: Dialect = "northern", digits: bool = False) -> list[str]:
    """A printed ticket number ('A1023', '15') as the words to speak: prefix letters by name, then the number."""
    m = _TICKET.match(ticket.strip().upper())
    if not m:
        raise ValueError(f"{ticket!r} is not a ticket number (letters A-Z up to 3, then 1-6 digits)")
    prefix, num = m.groups()
    return letter_words(prefix) + (digit_words(num) if digits else number_words(int(num), dialect))


def all_number_words(dialect: Dialect, digits: bool = False) -> set[str]:
    """Every word needed to read 0..9999 in this usage (the voice pack must hold them all)."""
    if digits:
        return set(DIGITS)
    words: set[str] = set()
    for n in range(10000):
        words.update(number_words(n, dialect))
    return words
