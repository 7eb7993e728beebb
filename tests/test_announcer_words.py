"""What the announcer says: Vietnamese number words (every shared vector, both usages), tickets, templates, `motcua say`."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from announcer.numbers import all_number_words, digit_words, number_words, ticket_words
from announcer.phrases import DEFAULT_TEMPLATE, Wording, check_template, template_words

DATA = Path(__file__).parent / "data" / "vi_numbers.tsv"
with DATA.open(encoding="utf-8") as f:
    VECTORS = list(csv.DictReader(f, delimiter="\t"))


def test_vectors_are_there():
    assert len(VECTORS) >= 30
    assert {"number", "northern", "southern"} <= set(VECTORS[0])


@pytest.mark.parametrize("dialect", ["northern", "southern"])
@pytest.mark.parametrize("row", VECTORS, ids=[r["number"] for r in VECTORS])
def test_every_vector_both_usages(row, dialect):
    assert " ".join(number_words(int(row["number"]), dialect)) == row[dialect]


@pytest.mark.parametrize("n, northern, southern", [
    (1023, "một nghìn không trăm hai mươi ba", "một ngàn không trăm hai mươi ba"),
    (1005, "một nghìn không trăm linh năm", "một ngàn không trăm lẻ năm"),
    (101, "một trăm linh một", "một trăm lẻ một"),
    (15, "mười lăm", "mười lăm"),
    (21, "hai mươi mốt", "hai mươi mốt"),
    (3001, "ba nghìn không trăm linh một", "ba ngàn không trăm lẻ một"),
    (2010, "hai nghìn không trăm mười", "hai ngàn không trăm mười"),
    (5115, "năm nghìn một trăm mười lăm", "năm ngàn một trăm mười lăm"),
    (12345, "mười hai nghìn ba trăm bốn mươi lăm", "mười hai ngàn ba trăm bốn mươi lăm"),
])
def test_known_readings(n, northern, southern):
    assert " ".join(number_words(n, "northern")) == northern
    assert " ".join(number_words(n, "southern")) == southern


def test_rules_hold_over_the_whole_range():
    for n in range(10000):
        words = number_words(n, "northern")
        text = " ".join(words)
        assert "mười một" not in text or n % 100 == 11, n
        # units after "mươi": mốt for 1, lăm for 5, never "năm"/"một"
        for i, w in enumerate(words[:-1]):
            if w == "mươi":
                assert words[i + 1] not in ("một", "năm") or (i + 2 < len(words) and words[i + 2] == "trăm"), n
        assert "lẻ" not in words and "ngàn" not in words
    assert all_number_words("northern") == {
        "không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín",
        "mười", "mươi", "mốt", "lăm", "trăm", "linh", "nghìn"}
    assert all_number_words("southern") - all_number_words("northern") == {"lẻ", "ngàn"}


def test_digits():
    assert digit_words("1023") == ["một", "không", "hai", "ba"]
    assert ticket_words("A0015", digits=True) == ["a", "không", "không", "một", "năm"]


@pytest.mark.parametrize("ticket, words", [
    ("A1023", "a một nghìn không trăm hai mươi ba"),
    ("B2001", "bê hai nghìn không trăm linh một"),
    ("C15", "xê mười lăm"),
    ("L5", "e lờ năm"),
    ("AB101", "a bê một trăm linh một"),
    ("1023", "một nghìn không trăm hai mươi ba"),
    ("a21", "a hai mươi mốt"),
])
def test_prefixed_tickets(ticket, words):
    assert " ".join(ticket_words(ticket)) == words


def test_prefixed_ticket_southern():
    assert " ".join(ticket_words("D1005", "southern")) == "dê một ngàn không trăm lẻ năm"


@pytest.mark.parametrize("bad", ["", "A", "ABCD1", "A-1", "1234567", "Ă12"])
def test_not_a_ticket(bad):
    with pytest.raises(ValueError):
        ticket_words(bad)


def test_default_phrase():
    w = Wording()
    assert w.line("A1023", 5) == "Mời công dân có số a một nghìn không trăm hai mươi ba đến quầy số năm"
    assert Wording(dialect="southern", digits=True).line("B105", 12) == \
        "Mời công dân có số bê một không năm đến quầy số mười hai"
    assert template_words(DEFAULT_TEMPLATE) == ["mời", "công", "dân", "có", "số", "đến", "quầy", "số"]


def test_custom_template():
    w = Wording(template="Kính mời công dân có số thứ tự {ticket}, đến quầy {counter}.")
    assert w.words("A15", 21) == ["Kính", "mời", "công", "dân", "có", "số", "thứ", "tự", "a", "mười", "lăm",
                                  "đến", "quầy", "hai", "mươi", "mốt"]


@pytest.mark.parametrize("bad", ["Mời số {ticket} {quay}", "Mời quầy {counter}", "{ticket} {", ])
def test_bad_templates(bad):
    with pytest.raises(ValueError):
        check_template(bad)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "motcua.cli", *args], capture_output=True, text=True, timeout=30)


def test_say_prints_one_line_and_nothing_else():
    r = run_cli("say", "A1023", "--counter", "5")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Mời công dân có số a một nghìn không trăm hai mươi ba đến quầy số năm\n"
    assert r.stderr == ""
    r = run_cli("say", "B1005", "--counter", "12", "--dialect", "southern")
    assert r.stdout == "Mời công dân có số bê một ngàn không trăm lẻ năm đến quầy số mười hai\n"
    r = run_cli("say", "A1023", "--counter", "5", "--digits")
    assert r.stdout == "Mời công dân có số a một không hai ba đến quầy số năm\n"


def test_say_uses_the_settings_template(tmp_path):
    cfg = tmp_path / "announcer.toml"
    cfg.write_text('[wording]\ntemplate = "Xin mời khách hàng số {ticket} đến quầy {counter}"\ndialect = "southern"\n',
                   encoding="utf-8")
    r = run_cli("say", "101", "--counter", "3", "--config", str(cfg))
    assert r.stdout == "Xin mời khách hàng số một trăm lẻ một đến quầy ba\n", r.stderr


def test_say_refuses_a_bad_ticket():
    r = run_cli("say", "A-1", "--counter", "5")
    assert r.returncode == 2 and r.stdout == ""
