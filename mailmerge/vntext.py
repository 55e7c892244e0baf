"""Vietnamese text helpers: normalisation, ASCII folding and the decree's date/time wording."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

WEEKDAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
# Characters that Word, Excel and web pages leave in copied text and that nobody sees: soft hyphen, zero-width
# space / non-joiner / joiner, left-to-right and right-to-left marks, embeddings and isolates, word joiner, BOM.
INVISIBLE = frozenset(
    "\u00ad\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)
# Unicode category Zs: the plain space and the no-break, en/em, thin, hair, narrow no-break, ideographic ... spaces.
SPACES = frozenset(
    "\u0020\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)
INVISIBLE_RUN = re.compile(f"[{''.join(sorted(INVISIBLE))}]+")
SPACE_RUN = re.compile(f"[{''.join(sorted(SPACES))}]{{2,}}|[{''.join(sorted(SPACES - {' '}))}]")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def clean_text(text: str) -> str:
    """Text as the user sees it: invisible characters removed, every Unicode space (category Zs: no-break, thin,
    ideographic ...) a plain space, runs of spaces collapsed, ends stripped, NFC. Line breaks and other control
    characters inside the text are kept, so that they can still be reported."""
    return nfc(SPACE_RUN.sub(" ", INVISIBLE_RUN.sub("", text)).strip())


def ascii_fold(text: str) -> str:
    """ "Nguyễn Văn Đức" -> "Nguyen Van Duc". Đ/đ have no decomposition, so they are mapped explicitly."""
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).encode("ascii", "ignore").decode("ascii")


def filename_part(text: str) -> str:
    """ASCII-safe piece of a file name: letters, digits and single hyphens."""
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_fold(text)).strip("-")


def vn_date(day: date, *, pad_month: bool = True) -> str:
    """Decree 30 wording: "ngày 05 tháng 02 năm 2020" — day < 10 and months 1-2 zero-padded."""
    month = f"{day.month:02d}" if pad_month and day.month < 3 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def vn_time(moment: datetime) -> str:
    """ "08 giờ 00"."""
    return f"{moment.hour:02d} giờ {moment.minute:02d}"


def vn_weekday(day: date) -> str:
    return WEEKDAYS[day.weekday()]


def vn_upper(text: str) -> str:
    return nfc(text).upper()


# --- Vietnamese name order ---------------------------------------------------------------------------------

ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"  # the Vietnamese letters, with f j w z where Latin has them
LETTER_RANK = {letter: rank for rank, letter in enumerate(ALPHABET)}
# Tone marks (combining, after NFD) in the order dictionaries use: none, huyền, hỏi, ngã, sắc, nặng.
TONE_RANK = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}


def syllable_key(word: str) -> tuple[tuple[int, ...], int]:
    """A word's letters by the Vietnamese alphabet (ă, â, đ, ê, ô, ơ, ư are letters of their own), then its
    tone: "ma" < "mà" < "mả" < "mã" < "má" < "mạ" < "mác". NFC and NFD spellings give the same key."""
    letters: list[str] = []
    tone = 0
    for char in unicodedata.normalize("NFD", word.lower()):
        if char in TONE_RANK:
            tone = TONE_RANK[char]
        elif unicodedata.combining(char) and letters:
            letters[-1] = unicodedata.normalize("NFC", letters[-1] + char)  # ă â ê ô ơ ư
        else:
            letters.append(char)
    ranks = tuple(LETTER_RANK.get(letter, len(ALPHABET) + ord(letter)) for letter in letters)
    return ranks, tone


def name_key(name: str) -> tuple:
    """How a list of people is ordered in Vietnamese: by given name (the last word), then the middle names,
    then the family name (the first word)."""
    words = name.split()
    if not words:
        return ((), (), ())
    given, middle, family = words[-1], words[1:-1], words[:1] if len(words) > 1 else []
    return (syllable_key(given), tuple(map(syllable_key, middle)), tuple(map(syllable_key, family)))
