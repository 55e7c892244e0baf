"""Dates and times as an office types them: ISO or `dd/mm/yyyy`, `8h00`, `8 giờ 30`, `08:00`.

Vietnamese documents write the day first (28/8/2020 is 28 August), so `dd/mm` is the only reading of a
slashed date. A weekday written next to the date ("thứ Sáu, 28/8/2020") is checked against it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time

from .vntext import WEEKDAYS

ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
DAY_FIRST_DATE = re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)")
TIME_OF_DAY = re.compile(r"(?<![\d/.-])(\d{1,2})\s*(?::(\d{2})(?::(\d{2}))?|(?:giờ|h|g)\s*(\d{2})?)(?![\d/])", re.I)
FILLER = re.compile(r"[\s,;T]|ngày|lúc|vào|sáng|chiều|tối", re.I)
EXAMPLES = "“2020-08-28 08:00”, “28/08/2020 8h00” or an unquoted TOML date-time such as 2020-08-28T08:00:00"


class OfficeTimeError(ValueError):
    """The text is not a date or time we can read; the message says what to write instead."""


def parse_date(value: object) -> date:
    """A TOML date, or text such as “21/08/2020” or “2020-08-21”."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise OfficeTimeError("must be a date such as 2020-08-21 or “21/08/2020”")
    text = _fold(value)
    day, rest = _take_date(text)
    if day is None or FILLER.sub("", _drop_weekday(rest, day)):
        raise OfficeTimeError(f"“{value}” is not a date; write it as 2020-08-21 or “21/08/2020”")
    return day


def parse_datetime(value: object) -> datetime:
    """A TOML date-time, or text with a date and a time of day in either order."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        raise OfficeTimeError(f"has a date but no time of day; write it as {EXAMPLES}")
    if isinstance(value, time):
        raise OfficeTimeError(f"has a time of day but no date; write it as {EXAMPLES}")
    if not isinstance(value, str):
        raise OfficeTimeError(f"must be a date and time such as {EXAMPLES}")
    text = _fold(value)
    day, rest = _take_date(text)
    clock, rest = _take_time(rest)
    if day is None:
        raise OfficeTimeError(f"“{value}” has no date; write it as {EXAMPLES}")
    if clock is None:
        raise OfficeTimeError(f"“{value}” has no time of day; write it as {EXAMPLES}")
    if FILLER.sub("", _drop_weekday(rest, day)):
        raise OfficeTimeError(f"“{value}” is not a date and time we can read; write it as {EXAMPLES}")
    return datetime.combine(day, clock)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _take_date(text: str) -> tuple[date | None, str]:
    for pattern, order in ((ISO_DATE, (0, 1, 2)), (DAY_FIRST_DATE, (2, 1, 0))):
        if match := pattern.search(text):
            year, month, day = (int(match.group(i + 1)) for i in order)
            try:
                found = date(year, month, day)
            except ValueError:
                raise OfficeTimeError(f"“{match.group(0)}” is not a date in the calendar") from None
            return found, text[: match.start()] + " " + text[match.end() :]
    return None, text


def _take_time(text: str) -> tuple[time | None, str]:
    match = TIME_OF_DAY.search(text)
    if not match:
        return None, text
    hour = int(match.group(1))
    minute = int(match.group(2) or match.group(4) or 0)
    second = int(match.group(3) or 0)
    try:
        found = time(hour, minute, second)
    except ValueError:
        raise OfficeTimeError(f"“{match.group(0)}” is not a time of day") from None
    return found, text[: match.start()] + " " + text[match.end() :]


def _drop_weekday(text: str, day: date) -> str:
    """Remove a weekday name; one that does not match the date is an error, not a guess."""
    lowered = text.lower()
    for number, name in enumerate(WEEKDAYS):
        if name.lower() in lowered:
            if number != day.weekday():
                raise OfficeTimeError(f"{day:%d/%m/%Y} is {WEEKDAYS[day.weekday()]}, not {name}")
            return re.sub(re.escape(name), " ", text, flags=re.I)
    return text
