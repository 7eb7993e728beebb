"""From a call to the list of words an announcement speaks: pure functions.

A template is Vietnamese text with two placeholders, ``{ticket}`` and ``{counter}``;
each word of the text and of the numbers becomes one token, and each token is one
clip of the voice pack (a pack may also hold whole phrases: see voicepack.py).
The ticket may be read digit by digit; the counter is always read as a whole number
("quầy số mười hai").
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

from .numbers import Dialect, number_words, ticket_words

DEFAULT_TEMPLATE = "Mời công dân có số {ticket} đến quầy số {counter}"
PLACEHOLDERS = ("ticket", "counter")
CHIME = "chime"  # the pack key of the chime played before an announcement

_FIELD = re.compile(r"\{([^{}]*)\}")
_PUNCT = ",.;:!?…\"'()“”‘’–-"


def normalise(word: str) -> str:
    """The voice-pack key of a word: NFC, lower case, no surrounding punctuation."""
    return unicodedata.normalize("NFC", word).strip(_PUNCT + string.whitespace).lower()


def check_template(template: str) -> str:
    """Raise ValueError unless the template uses only the known placeholders, each at most once."""
    names = _FIELD.findall(template)
    unknown = [n for n in names if n not in PLACEHOLDERS]
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}: a template may use {{ticket}} and {{counter}}")
    if "ticket" not in names:
        raise ValueError("the template must say the ticket: {ticket} is missing")
    if template.count("{") != len(names) or template.count("}") != len(names):
        raise ValueError("unbalanced braces in the template")
    if not template_words(template):
        raise ValueError("the template has no words")
    return template


def template_words(template: str) -> list[str]:
    """The literal words of a template, placeholders removed (what the pack must hold besides numbers)."""
    return [w for w in (normalise(t) for t in _FIELD.sub(" ", template).split()) if w]


@dataclass(frozen=True)
class Wording:
    template: str = DEFAULT_TEMPLATE
    dialect: Dialect = "northern"
    digits: bool = False

    def words(self, ticket: str, counter: int) -> list[str]:
        """The tokens of one phrase, in order, as the template writes them (case kept for display)."""
        out: list[str] = []
        pos = 0
        for m in _FIELD.finditer(self.template):
            out += _literal(self.template[pos:m.start()])
            if m.group(1) == "ticket":
                out += ticket_words(ticket, self.dialect, self.digits)
            else:
                out += number_words(int(counter), self.dialect)
            pos = m.end()
        out += _literal(self.template[pos:])
        return out

    def line(self, ticket: str, counter: int) -> str:
        return " ".join(self.words(ticket, counter))


def _literal(text: str) -> list[str]:
    words = []
    for tok in unicodedata.normalize("NFC", text).split():
        tok = tok.strip(_PUNCT)
        if tok:
            words.append(tok)
    return words
