"""Vietnamese text helpers: normalisation, ASCII folding and the decree's date/time wording."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

WEEKDAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


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
