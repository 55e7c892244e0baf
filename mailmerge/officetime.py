"""Dates and times as an office types them: ISO or `dd/mm/yyyy`, `8h00`, `8 giờ 30`, `08:00`.

Vietnamese documents write the day first (28/8/2020 is 28 August), so `dd/mm` is the only reading of a
slashed date. A weekday written next to the date ("thứ Sáu, 28/8/2020") is checked against it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta

from .i18n import _
from .vntext import WEEKDAYS

ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
DAY_FIRST_DATE = re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)")
TIME_OF_DAY = re.compile(r"(?<![\d/.-])(\d{1,2})\s*(?::(\d{2})(?::(\d{2}))?|(?:giờ|h|g)\s*(\d{2})?)(?![\d/])", re.I)
FILLER = re.compile(r"[\s,;T]|ngày|lúc|vào|sáng|chiều|tối", re.I)


class OfficeTimeError(ValueError):
    """The text is not a date or time we can read; the message says what to write instead."""


def parse_date(value: object) -> date:
    """A TOML date, or text such as “21/08/2020” or “2020-08-21”."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        # TRANSLATORS: shown after "campaign.toml:line [table.key]: ", the setting being the subject; the dates are
        # typed as they are.
        raise OfficeTimeError(_("must be a date such as 2020-08-21 or “21/08/2020”"))
    text = _fold(value)
    day, rest = _take_date(text)
    if day is None or FILLER.sub("", _drop_weekday(rest, day)):
        # TRANSLATORS: {value} is a date as written in campaign.toml; the examples are typed as they are.
        raise OfficeTimeError(_("“{value}” is not a date; write it as 2020-08-21 or “21/08/2020”").format(value=value))
    return day


def parse_datetime(value: object) -> datetime:
    """A TOML date-time, or text with a date and a time of day in either order."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        # TRANSLATORS: shown after "campaign.toml:line [table.key]: ", the setting being the subject; the examples
        # are typed as they are (2020-08-28T08:00:00 is a TOML date-time, written without quotes).
        message = _(
            "has a date but no time of day; write it as “2020-08-28 08:00”, “28/08/2020 8h00” "
            "or an unquoted TOML date-time such as 2020-08-28T08:00:00"
        )
        raise OfficeTimeError(message)
    if isinstance(value, time):
        # TRANSLATORS: shown after "campaign.toml:line [table.key]: ", the setting being the subject; the examples
        # are typed as they are (2020-08-28T08:00:00 is a TOML date-time, written without quotes).
        message = _(
            "has a time of day but no date; write it as “2020-08-28 08:00”, “28/08/2020 8h00” "
            "or an unquoted TOML date-time such as 2020-08-28T08:00:00"
        )
        raise OfficeTimeError(message)
    if not isinstance(value, str):
        # TRANSLATORS: shown after "campaign.toml:line [table.key]: ", the setting being the subject; the examples
        # are typed as they are (2020-08-28T08:00:00 is a TOML date-time, written without quotes).
        message = _(
            "must be a date and time such as “2020-08-28 08:00”, “28/08/2020 8h00” "
            "or an unquoted TOML date-time such as 2020-08-28T08:00:00"
        )
        raise OfficeTimeError(message)
    text = _fold(value)
    day, rest = _take_date(text)
    clock, rest = _take_time(rest)
    if day is None:
        # TRANSLATORS: {value} is a date and time as written in campaign.toml; the examples are typed as they are
        # (2020-08-28T08:00:00 is a TOML date-time, written without quotes).
        message = _(
            "“{value}” has no date; write it as “2020-08-28 08:00”, “28/08/2020 8h00” "
            "or an unquoted TOML date-time such as 2020-08-28T08:00:00"
        )
        raise OfficeTimeError(message.format(value=value))
    if clock is None:
        # TRANSLATORS: {value} is a date and time as written in campaign.toml; the examples are typed as they are
        # (2020-08-28T08:00:00 is a TOML date-time, written without quotes).
        message = _(
            "“{value}” has no time of day; write it as “2020-08-28 08:00”, “28/08/2020 8h00” "
            "or an unquoted TOML date-time such as 2020-08-28T08:00:00"
        )
        raise OfficeTimeError(message.format(value=value))
    if FILLER.sub("", _drop_weekday(rest, day)):
        # TRANSLATORS: {value} is a date and time as written in campaign.toml; the examples are typed as they are
        # (2020-08-28T08:00:00 is a TOML date-time, written without quotes).
        message = _(
            "“{value}” is not a date and time we can read; write it as “2020-08-28 08:00”, “28/08/2020 8h00” "
            "or an unquoted TOML date-time such as 2020-08-28T08:00:00"
        )
        raise OfficeTimeError(message.format(value=value))
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
                # TRANSLATORS: {value} is a date as written ("31/02/2020").
                message = _("“{value}” is not a date in the calendar").format(value=match.group(0))
                raise OfficeTimeError(message) from None
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
        # TRANSLATORS: {value} is a time of day as written ("25h00").
        raise OfficeTimeError(_("“{value}” is not a time of day").format(value=match.group(0))) from None
    return found, text[: match.start()] + " " + text[match.end() :]


def _drop_weekday(text: str, day: date) -> str:
    """Remove a weekday name; one that does not match the date is an error, not a guess."""
    lowered = text.lower()
    for number, name in enumerate(WEEKDAYS):
        if name.lower() in lowered:
            if number != day.weekday():
                # TRANSLATORS: {date} is a date ("28/08/2020"); {weekday} is its weekday and {written} the weekday
                # written next to it, both already in Vietnamese ("thứ Sáu", "thứ Năm").
                message = _("{date} is {weekday}, not {written}")
                raise OfficeTimeError(
                    message.format(date=f"{day:%d/%m/%Y}", weekday=WEEKDAYS[day.weekday()], written=name)
                )
            return re.sub(re.escape(name), " ", text, flags=re.I)
    return text


INTERVAL = re.compile(r"(\d+(?:[.,]\d+)?)\s*(w|d|h|m|tuần|ngày|giờ|phút)?", re.I)
INTERVAL_UNITS = {"w": "weeks", "tuần": "weeks", "d": "days", "ngày": "days", "h": "hours", "giờ": "hours"}


def parse_interval(text: str) -> timedelta:
    """“2d”, “36h”, “90m”, “1w”, “2 ngày”; a bare number is days, “0” is no interval."""
    found = INTERVAL.fullmatch(unicodedata.normalize("NFC", text.strip()))
    if not found:
        # TRANSLATORS: {value} is what the user typed; the examples are typed as they are (d: days, h: hours,
        # m: minutes, w: weeks; the Vietnamese units ngày, giờ, phút, tuần are understood too).
        raise OfficeTimeError(_("“{value}” is not a length of time; write it as 2d, 36h, 90m or 1w").format(value=text))
    amount, unit = float(found[1].replace(",", ".")), (found[2] or "d").lower()
    return timedelta(**{INTERVAL_UNITS.get(unit, "minutes"): amount})
