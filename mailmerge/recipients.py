"""Reading and validating the recipients file (CSV in any encoding an office produces, or XLSX).

Every problem in the file is collected and reported at once, with its row and column, so the user can
fix the file in one pass. Nothing downstream ever sees an unvalidated recipient.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from .errors import InputError, Problem
from .models import Recipient
from .vntext import ascii_fold, nfc

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "order": ("order", "stt", "thu tu", "so thu tu"),
    "group": ("group", "nhom", "thanh phan"),
    "organisation": ("organisation", "organization", "don vi", "co quan"),
    "position": ("position", "chuc vu"),
    "salutation": ("salutation", "danh xung", "xung ho"),
    "name": ("name", "full name", "ho ten", "ho va ten"),
    "email": ("email", "e mail", "thu dien tu"),
    "cc": ("cc",),
    "phone": ("phone", "dien thoai", "so dien thoai", "sdt"),
}
REQUIRED_COLUMNS = ("order", "group", "organisation", "position", "salutation", "name", "email")
LETTER_COLUMNS = ("group", "organisation", "position", "salutation", "name")  # "?" here means a lossy ANSI save
REQUIRED_VALUES = ("order", "organisation", "salutation", "name", "email")
DELIMITERS = (",", ";", "\t")
QUESTION_MARK_IN_WORD = re.compile(r"\w\?|\?\w")
CC_SEPARATOR = re.compile(r"[;,]")


@dataclass
class Table:
    """A file read as text: its header and its non-empty rows, each with the row number a user sees."""

    header: list[str]
    rows: list[tuple[int, list[str]]]


def load_recipients(path: Path, *, encoding: str | None = None) -> list[Recipient]:
    """Read, normalise and validate; raise `InputError` listing every problem, or return by protocol order."""
    recipients, problems = read_recipients(path, encoding=encoding)
    if problems:
        raise InputError(problems)
    return recipients


def read_recipients(path: Path, *, encoding: str | None = None) -> tuple[list[Recipient], list[Problem]]:
    """The valid recipients and the problems of the others (for `send --skip-invalid`).

    A file that cannot be read as a table at all still raises `InputError`."""
    if not path.is_file():
        raise InputError([Problem(str(path), "file not found; create it or run `mailmerge init`")])
    table = read_xlsx(path) if path.suffix.lower() == ".xlsx" else read_csv(path, encoding)
    return validate(table, path.name)


def decode(raw: bytes, encoding: str | None = None) -> str:
    """Text of a CSV file: the BOM decides; otherwise UTF-8 if it decodes, else Windows-1258 (Vietnamese)."""
    if encoding:
        return raw.decode(encoding)
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1258")


def read_csv(path: Path, encoding: str | None = None) -> Table:
    try:
        text = decode(path.read_bytes(), encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise InputError(
            [Problem(path.name, f"cannot decode the file ({error}); save it as “CSV UTF-8” and retry")]
        ) from None
    text = nfc(text)
    first_line = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=first_line.count)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not records:
        raise InputError([Problem(path.name, "the file is empty; it needs a header row")])
    rows = [(number, cells) for number, cells in enumerate(records[1:], start=2) if any(c.strip() for c in cells)]
    return Table(header=records[0], rows=rows)


def read_xlsx(path: Path) -> Table:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        raise InputError([Problem(path.name, f"not a readable .xlsx workbook ({error})")]) from None
    try:
        sheet_rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()
    if not sheet_rows:
        raise InputError([Problem(path.name, "the first sheet is empty; it needs a header row")])
    header = [cell_text(cell) for cell in sheet_rows[0]]
    while header and not header[-1]:
        header.pop()
    rows = []
    for number, values in enumerate(sheet_rows[1:], start=2):
        cells = [cell_text(cell) for cell in values]
        while len(cells) > len(header) and not cells[-1]:
            cells.pop()
        if any(c.strip() for c in cells):
            rows.append((number, cells + [""] * (len(header) - len(cells))))
    return Table(header=header, rows=rows)


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text the user sees (1.0 -> "1", dates as ISO)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return nfc(str(value))


def canonical_column(header_cell: str) -> str:
    key = re.sub(r"[\s_\-]+", " ", ascii_fold(header_cell).lower()).strip()
    for canonical, aliases in COLUMN_ALIASES.items():
        if key in aliases:
            return canonical
    return header_cell.strip()


def validate(table: Table, file: str) -> tuple[list[Recipient], list[Problem]]:
    columns = [canonical_column(cell) for cell in table.header]
    missing = [
        Problem(file, f"missing required column “{name}” (header row has: {', '.join(table.header)})", 1)
        for name in REQUIRED_COLUMNS
        if name not in columns
    ]
    if missing:
        raise InputError(missing)
    if not table.rows:
        raise InputError([Problem(file, "no recipients: the file has a header but no rows")])

    problems = []
    rows: list[tuple[int, dict[str, str]]] = []
    for number, cells in table.rows:
        if len(cells) == len(columns):
            rows.append((number, dict(zip(columns, (cell.strip() for cell in cells), strict=True))))
        else:
            problems.append(
                Problem(
                    file,
                    f"has {len(cells)} fields, the header has {len(columns)}; check for a stray "
                    "delimiter or a missing quote",
                    number,
                )
            )
    for number, values in rows:
        problems += check_row(values, file, number)
    problems += duplicates(rows, file)
    bad_rows = {problem.row for problem in problems}
    recipients = [make_recipient(values, number) for number, values in rows if number not in bad_rows]
    problems.sort(key=lambda problem: problem.row or 0)
    return sorted(recipients, key=lambda r: r.order), problems


def check_row(values: dict[str, str], file: str, number: int) -> list[Problem]:
    problems = []
    for column, value in values.items():
        if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value):
            problems.append(Problem(file, "contains a line break or control character; remove it", number, column))
        elif column in LETTER_COLUMNS and QUESTION_MARK_IN_WORD.search(value):
            problems.append(
                Problem(
                    file,
                    f"“{value}” has “?” in place of letters: the file was saved as ANSI CSV; "
                    "save it again as “CSV UTF-8”",
                    number,
                    column,
                )
            )
    for column in REQUIRED_VALUES:
        if not values.get(column):
            problems.append(Problem(file, "is empty; every recipient needs it", number, column))
    order = values.get("order", "")
    if order and not (order.isdecimal() and int(order) > 0):
        problems.append(Problem(file, f"“{order}” is not a positive whole number", number, "order"))
    for column, address in [("email", values.get("email", ""))] + [("cc", a) for a in cc_list(values)]:
        if address and (message := email_problem(address)):
            problems.append(Problem(file, f"“{address}” is not a valid address: {message}", number, column))
    return problems


def cc_list(values: dict[str, str]) -> list[str]:
    return [part.strip() for part in CC_SEPARATOR.split(values.get("cc", "")) if part.strip()]


def email_problem(address: str) -> str | None:
    try:
        validate_email(address, check_deliverability=False, test_environment=True, allow_smtputf8=False)
    except EmailNotValidError as error:
        return str(error)
    return None


def make_recipient(values: dict[str, str], number: int) -> Recipient:
    known = set(COLUMN_ALIASES)
    return Recipient(
        row=number,
        order=int(values["order"]),
        group=values["group"],
        organisation=values["organisation"],
        position=values["position"],
        salutation=values["salutation"],
        name=values["name"],
        email=validate_email(values["email"], check_deliverability=False, test_environment=True).normalized,
        cc=tuple(cc_list(values)),
        phone=values.get("phone", ""),
        extra={key: value for key, value in values.items() if key not in known},
    )


def duplicates(rows: list[tuple[int, dict[str, str]]], file: str) -> list[Problem]:
    """Every repeat of an email (case-insensitive) or order, naming the row it repeats."""
    problems = []
    for column in ("email", "order"):
        first_row: dict[str, int] = {}
        for number, values in rows:
            key = values.get(column, "").lower()
            if not key:
                continue
            if key in first_row:
                problems.append(Problem(file, f"“{key}” is a duplicate of row {first_row[key]}", number, column))
            else:
                first_row[key] = number
    return problems
