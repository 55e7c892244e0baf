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
