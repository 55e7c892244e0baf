"""A CSV or XLSX file read as rows of text, each with the row number the user sees in Excel or an editor.

Knows nothing about recipients: which row is the header is for the caller to decide. For CSV the caller's
`rank` of header rows also picks the delimiter, because a title line above the header ("DANH SÁCH KHÁCH MỜI",
perhaps with Excel's trailing commas, or a comma inside the title of a semicolon file) cannot.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from .errors import InputError, Problem
from .i18n import _
from .vntext import clean_text, nfc

DELIMITERS = (",", ";", "\t")
HEADER_SEARCH_ROWS = 10  # the header is looked for among this many non-empty rows at the top

Rank = Callable[[list[str]], tuple[bool, int]]  # how much a row looks like the header; higher is more


@dataclass
class Table:
    """The non-empty rows of a file, each with its row number (blank rows are skipped but still counted)."""

    file: str
    kind: Literal["csv", "xlsx"]
    rows: list[tuple[int, list[str]]]


def read_table(path: Path, encoding: str | None, rank: Rank) -> Table:
    """Every non-empty row of a .xlsx workbook's first sheet, or of a CSV file in any encoding an office produces."""
    if path.suffix.lower() == ".xlsx":
        return read_xlsx(path)
    return read_csv(path, encoding, rank)


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


def read_csv(path: Path, encoding: str | None, rank: Rank) -> Table:
    try:
        text = nfc(decode(path.read_bytes(), encoding))
    except (UnicodeDecodeError, LookupError) as error:
        # TRANSLATORS: shown after the file's name; {reason} is Python's English explanation ("'utf-8' codec can't
        # decode byte 0xe1 …", "unknown encoding: …"), shown untranslated; “CSV UTF-8” is a file type in Excel.
        message = _("cannot decode the file ({reason}); save it as “CSV UTF-8” and retry")
        raise InputError([Problem(path.name, message.format(reason=error))]) from None
    try:
        parses = {
            delimiter: non_empty(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
            for delimiter in DELIMITERS
        }
    except csv.Error as error:
        # TRANSLATORS: shown after the file's name, the file being the subject; {reason} is Python's English
        # explanation, shown untranslated; “CSV UTF-8” is a file type in Excel.
        message = _("cannot be read as CSV ({reason}); save it again as “CSV UTF-8”")
        raise InputError([Problem(path.name, message.format(reason=error))]) from None
    delimiter = max(DELIMITERS, key=lambda d: (best_rank(parses[d], rank), delimiter_count(text, d)))
    if not parses[delimiter]:
        raise InputError([Problem(path.name, _("the file is empty; it needs a header row"))])
    return Table(path.name, "csv", parses[delimiter])


def best_rank(rows: list[tuple[int, list[str]]], rank: Rank) -> tuple[bool, int]:
    return max((rank(cells) for _, cells in rows[:HEADER_SEARCH_ROWS]), default=(False, 0))


def delimiter_count(text: str, delimiter: str) -> int:
    """How often the delimiter occurs in the first lines: decides only when no row looks like a header."""
    lines = [line for line in text.splitlines() if line.strip()]
    return sum(line.count(delimiter) for line in lines[:HEADER_SEARCH_ROWS])


def non_empty(records: Iterable[list[str]]) -> list[tuple[int, list[str]]]:
    return [(number, cells) for number, cells in enumerate(records, start=1) if any(clean_text(c) for c in cells)]


def read_xlsx(path: Path) -> Table:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        # TRANSLATORS: shown after the file's name; {reason} is the English explanation of the openpyxl library,
        # shown untranslated.
        message = _("not a readable .xlsx workbook ({reason})").format(reason=error)
        raise InputError([Problem(path.name, message)]) from None
    try:
        sheet_rows = workbook.worksheets[0].iter_rows(values_only=True)  # from row 1 and column A, gaps filled
        rows = non_empty(trimmed([cell_text(cell) for cell in values]) for values in sheet_rows)
    finally:
        workbook.close()
    if not rows:
        raise InputError([Problem(path.name, _("the first sheet is empty; it needs a header row"))])
    return Table(path.name, "xlsx", rows)


def trimmed(cells: list[str]) -> list[str]:
    """A sheet row without the empty cells at its end (the used range of a sheet is often wider than its data)."""
    while cells and not clean_text(cells[-1]):
        cells.pop()
    return cells


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text the user sees (1.0 -> "1", dates as ISO)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return nfc(str(value))
