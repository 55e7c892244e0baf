"""Reading and validating the recipients file (CSV in any encoding an office produces, or XLSX).

Files come as offices make them: a title above the header, Vietnamese column names, addresses pasted from
Outlook, invisible characters copied from Word. What can be cleaned is cleaned, with a note; every problem
left is collected and reported at once, with its row and the column named as the file's header names it, so
the user can fix the file in one pass. Nothing downstream ever sees an unvalidated recipient.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from email.utils import getaddresses
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from .address_reasons import explain
from .errors import InputError, Problem
from .i18n import _, ngettext
from .models import Recipient
from .tables import HEADER_SEARCH_ROWS, Table, read_table
from .vntext import INVISIBLE, ascii_fold, clean_text

# Canonical column (the name templates use) -> the header shown in messages, then every other accepted spelling.
# Matching ignores case, diacritics, spaces and punctuation: "HO_VA_TEN", "Họ và tên (*)" and "ho va ten" all match.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "order": ("STT", "Số TT", "Số thứ tự", "Thứ tự", "order"),
    "group": ("Thành phần", "Nhóm", "group"),
    "organisation": ("Đơn vị", "Cơ quan", "Cơ quan, đơn vị", "Đơn vị công tác", "organisation", "organization"),
    "position": ("Chức vụ", "Chức danh", "position"),
    "salutation": ("Danh xưng", "Xưng hô", "salutation"),
    "name": ("Họ và tên", "Họ tên", "full name", "name"),
    "email": ("Email", "E-mail", "Mail", "Thư điện tử", "Địa chỉ email", "Địa chỉ thư điện tử"),
    "cc": ("CC", "Đồng gửi"),
    "phone": ("Điện thoại", "Số điện thoại", "SĐT", "Số ĐT", "phone"),
}
REQUIRED_COLUMNS = ("order", "organisation", "position", "salutation", "name", "email")
HEADER_MUST_HAVE = frozenset({"name", "email"})  # a row without both is the header only to say what it lacks
LETTER_COLUMNS = ("group", "organisation", "position", "salutation", "name")  # "?" here means a lossy ANSI save
REQUIRED_VALUES = ("order", "organisation", "salutation", "name", "email")
QUESTION_MARK_IN_WORD = re.compile(r"\w\?|\?\w")
PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")  # one address, nothing around it
MAILTO = re.compile(r"mailto:", re.IGNORECASE)
CC_SEPARATOR = re.compile(r"\s*[;,]\s*")
CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # Unicode categories Cc, Zl and Zp


def folded(header_cell: str) -> str:
    """ "Họ và tên (*)" -> "ho va ten": the form in which header cells and aliases are compared."""
    return " ".join(re.findall(r"[a-z0-9]+", ascii_fold(clean_text(header_cell)).lower()))


ALIAS_INDEX = {folded(alias): name for name, aliases in COLUMN_ALIASES.items() for alias in (name, *aliases)}


@dataclass(frozen=True)
class RejectedRow:
    row: int  # the row number the user sees
    values: dict[str, str]  # cells by canonical column name ("order", "name", "email", ...), cleaned
    problems: list[Problem]


@dataclass
class Reading:
    recipients: list[Recipient]  # valid ones, sorted by protocol order
    problems: list[Problem]  # every problem, sorted by row
    notes: list[Problem]  # not errors: skipped title rows, cleaned addresses, removed invisible characters
    rejected: list[RejectedRow]  # the rows that had problems (for `send --skip-invalid` and `status`)


@dataclass(frozen=True)
class Header:
    row: int
    keys: list[str | None]  # per cell: canonical name, the text of an unknown column, None for an empty cell
    labels: dict[str, str]  # key -> the header cell as the file spells it, to name columns in messages


@dataclass
class Row:
    number: int
    values: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    well_formed: bool = True  # False: its cells may be shifted, so its values are not checked further


def load_recipients(path: Path, *, encoding: str | None = None) -> list[Recipient]:
    """Read, normalise and validate; raise `InputError` listing every problem, or return by protocol order."""
    reading = read_recipients(path, encoding=encoding)
    if reading.problems:
        raise InputError(reading.problems)
    return reading.recipients


def read_recipients(path: Path, *, encoding: str | None = None) -> Reading:
    """The valid recipients, the problems and rows of the others (for `send --skip-invalid`), and notes.

    A file that cannot be read as a table at all (or lacks a required column) still raises `InputError`."""
    if not path.is_file():
        # TRANSLATORS: shown after the path of the recipients file ("recipients.csv: …").
        raise InputError([Problem(str(path), _("file not found; create it or run `mailmerge init`"))])
    table = read_table(path, encoding, header_rank)
    header = find_header(table)
    rows = [read_row(table, header, number, cells) for number, cells in table.rows if number > header.row]
    if not rows:
        # TRANSLATORS: shown after the name of the recipients file ("recipients.csv: …").
        raise InputError([Problem(table.file, _("no recipients: the file has a header but no rows"))])
    for row in rows:
        if row.well_formed:
            row.problems += check_row(row.values, table.file, row.number, header.labels)
    add_duplicates([row for row in rows if row.well_formed], table.file, header.labels)
    notes = title_notes(table, header) + [note for row in rows for note in row.notes]
    return Reading(
        recipients=sorted((make_recipient(row) for row in rows if not row.problems), key=lambda r: r.order),
        problems=[problem for row in rows for problem in row.problems],
        notes=notes,
        rejected=[RejectedRow(row.number, row.values, row.problems) for row in rows if row.problems],
    )


# --- the header -----------------------------------------------------------------------------------------------


def canonical_column(header_cell: str) -> str:
    return ALIAS_INDEX.get(folded(header_cell), clean_text(header_cell))


def header_rank(cells: list[str]) -> tuple[bool, int]:
    """Does the row name the name and email columns, and how many known columns does it name."""
    known = {ALIAS_INDEX[key] for key in map(folded, cells) if key in ALIAS_INDEX}
    return known >= HEADER_MUST_HAVE, len(known)


def find_header(table: Table) -> Header:
    """The row among the first non-empty ones that looks most like the header (the first row if none does)."""
    number, cells = max(table.rows[:HEADER_SEARCH_ROWS], key=lambda row: header_rank(row[1]))
    texts = [clean_text(cell) for cell in cells]
    keys = [canonical_column(text) if text else None for text in texts]
    labels = {key: text for key, text in zip(keys, texts, strict=True) if key is not None}
    problems = [missing_column(table.file, number, name, texts) for name in REQUIRED_COLUMNS if name not in labels]
    problems += repeated_columns(table.file, number, keys)
    if problems:
        raise InputError(problems)
    return Header(number, keys, labels)


def missing_column(file: str, number: int, name: str, texts: list[str]) -> Problem:
    shown = ", ".join(text for text in texts if text)
    label = COLUMN_ALIASES[name][0]
    if folded(label) == name:
        # TRANSLATORS: {column} is the column's name as templates use it ("email"); {cells} are the cells of the
        # header row as the file spells them, separated by commas.
        message = _("the required column “{column}” is missing; the header row has: {cells}")
        return Problem(file, message.format(column=name, cells=shown), number)
    # TRANSLATORS: {column} is the column's name as templates use it ("name"), {header} its usual Vietnamese header
    # ("Họ và tên"); {cells} are the cells of the header row as the file spells them, separated by commas.
    message = _("the required column “{column}” ({header}) is missing; the header row has: {cells}")
    return Problem(file, message.format(column=name, header=label, cells=shown), number)


def repeated_columns(file: str, number: int, keys: list[str | None]) -> list[Problem]:
    """A known column twice (say "Email" and "E-mail"): which one holds the address is anyone's guess."""
    problems = []
    for name in COLUMN_ALIASES:
        indexes = [index for index, key in enumerate(keys) if key == name]
        if len(indexes) > 1:
            where = ", ".join(map(column_letter, indexes))
            # TRANSLATORS: {column} is the column's name as templates use it ("email"); {letters} are the
            # spreadsheet letters of the columns that hold it ("B, F").
            message = _("the column “{column}” appears more than once (columns {letters}); keep one")
            problems.append(Problem(file, message.format(column=name, letters=where), number))
    return problems


def title_notes(table: Table, header: Header) -> list[Problem]:
    if not any(number < header.row for number, _cells in table.rows):
        return []
    if header.row == 2:
        return [Problem(table.file, _("the header was found on row 2; row 1 is taken as a title and skipped"))]
    # TRANSLATORS: {row} is 3 or more; rows 1 to {last} (= {row} - 1) are skipped.
    message = _("the header was found on row {row}; rows 1–{last} are taken as a title and skipped")
    return [Problem(table.file, message.format(row=header.row, last=header.row - 1))]


# --- one row --------------------------------------------------------------------------------------------------


def read_row(table: Table, header: Header, number: int, cells: list[str]) -> Row:
    """The cleaned cells of one row by column, with the problems and notes of cleaning them."""
    row = Row(number, well_formed=table.kind == "xlsx" or len(cells) == len(header.keys))
    if not row.well_formed:
        # TRANSLATORS: shown after "file:row: ", the row being the subject; {count} fields in this row of the CSV
        # file, {columns} in its header row (always several).
        message = ngettext(
            "has {count} field, the header has {columns}; check for a stray delimiter or a missing quote",
            "has {count} fields, the header has {columns}; check for a stray delimiter or a missing quote",
            len(cells),
        )
        row.problems.append(Problem(table.file, message.format(count=len(cells), columns=len(header.keys)), number))
    width = len(header.keys)
    for index, raw in enumerate(cells + [""] * (width - len(cells))):  # a sheet row stops at its last value
        key = header.keys[index] if index < width else None
        text = clean_text(raw)
        if key is None:
            if text and row.well_formed:
                row.problems.append(unheaded_cell(table.file, number, index))
            continue
        column = header.labels[key]
        if key in ("email", "cc") and not has_control_character(text):
            row.values[key], problems, note = read_address_cell(key, text)
            row.problems += [Problem(table.file, message, number, column) for message in problems]
        else:
            row.values[key], note = text, None
        note = note or invisible_note(raw, row.values[key])
        if note:
            row.notes.append(Problem(table.file, note, number, column))
    return row


def unheaded_cell(file: str, number: int, index: int) -> Problem:
    letter = column_letter(index)
    # TRANSLATORS: {cell} is a spreadsheet cell ("J2"), {letter} its column's letter ("J").
    message = _("cell {cell} has a value but column {letter} has no header; give the column a header or clear it")
    # TRANSLATORS: names a column that has no header, where messages show the column's header: "[column J]".
    column = _("column {letter}").format(letter=letter)
    return Problem(file, message.format(cell=f"{letter}{number}", letter=letter), number, column)


def column_letter(index: int) -> str:
    """The spreadsheet letter of the column at a 0-based index: 0 -> "A", 26 -> "AA"."""
    from openpyxl.utils import get_column_letter  # openpyxl takes a while to import; CSV users never need it

    return get_column_letter(index + 1)


def invisible_note(raw: str, value: str) -> str | None:
    codes = sorted({f"U+{ord(ch):04X}" for ch in raw if ch in INVISIBLE})
    if not codes:
        return None
    # TRANSLATORS: {codes} are Unicode code points ("U+200B, U+00AD"); {value} is the cell's value without them.
    message = _("invisible characters copied from another program ({codes}) were removed; the value is “{value}”")
    return message.format(codes=", ".join(codes), value=value)


def has_control_character(text: str) -> bool:
    return CONTROL_CHARACTER.search(text) is not None


# --- addresses ------------------------------------------------------------------------------------------------


def read_address_cell(key: str, text: str) -> tuple[str, list[str], str | None]:
    """The email or cc cell cleaned (one address, or cc addresses joined by "; "), its problems, and a note
    saying what it was cleaned to when that is more than spacing."""
    addresses, problems = parse_addresses(text)
    if problems:
        return text, problems, None
    if key == "email" and len(addresses) > 1:
        # TRANSLATORS: {text} is the email cell as typed; {count} (2 or more) addresses were found in it; "cc" is
        # the name of a column of the recipients file.
        message = ngettext(
            "“{text}” holds {count} address; keep one here and move the others to the cc column",
            "“{text}” holds {count} addresses; keep one here and move the others to the cc column",
            len(addresses),
        )
        return text, [message.format(text=text, count=len(addresses))], None
    value = "; ".join(addresses)
    typed = text if key == "email" else CC_SEPARATOR.sub("; ", text)
    if value == typed:
        return value, [], None
    # TRANSLATORS: a note: {text} is an address cell as typed, {value} the address(es) kept from it.
    return value, [], _("“{text}” was cleaned to “{value}”").format(text=text, value=value)


def parse_addresses(text: str) -> tuple[list[str], list[str]]:
    """The addresses in a cell as Outlook pastes them (`Tên <a@x>`, `"Họ, tên" <a@x>`, `mailto:a@x`, `a@x; b@x;`),
    and why the parts that are not valid addresses are not."""
    if not text:
        return [], []
    # Most cells hold one plain address: the parser would find the same, 50 times slower.
    found = [text] if PLAIN_ADDRESS.fullmatch(text) else found_addresses(text)
    if not found:
        if reason := email_problem(text):
            return [], [invalid_address(text, reason)]
        # TRANSLATORS: {text} is an address cell as typed.
        return [], [_("“{text}” is not a valid address: no address found in it").format(text=text)]
    addresses, problems = [], []
    for address in found:
        if (reason := email_problem(address)) is None:
            addresses.append(address)
            continue
        shown = address if is_whole_part(address, text) else text  # the parser may have cut a bad address apart
        problems.append(invalid_address(shown, email_problem(shown) or reason))
    return addresses, list(dict.fromkeys(problems))


def found_addresses(text: str) -> list[str]:
    try:  # Pythons with the CVE-2023-27043 fix parse strictly by default, refusing "a@x; b@x" and "a@x;" outright
        pairs = getaddresses([MAILTO.sub("", text)], strict=False)
    except TypeError:
        pairs = getaddresses([MAILTO.sub("", text)])
    return [address for _name, address in pairs if address]


def invalid_address(text: str, reason: str) -> str:
    # TRANSLATORS: {text} is an address as typed; {reason} says why (translated in address_reasons.py where it is
    # a common reason, else the email-validator library's English).
    return _("“{text}” is not a valid address: {reason}").format(text=text, reason=reason)


def is_whole_part(address: str, text: str) -> bool:
    """Is the address one of the `;`/`,`-separated parts of the cell, alone or in `<...>`?"""
    pattern = re.compile(rf"(?:[^<]*<)?{re.escape(address)}>?")
    return any(pattern.fullmatch(part.strip()) for part in CC_SEPARATOR.split(text))


def email_problem(address: str) -> str | None:
    """Why `address` is not a valid address, in the user's language; None when it is."""
    reason = validated(address)[1]
    return explain(reason) if reason else None


@functools.lru_cache(maxsize=65536)
def validated(address: str) -> tuple[str | None, str | None]:
    """(the address normalized, None), or (None, email-validator's English reason). Cached: each address is
    asked about twice (its problems, then its normalized form), and a list repeats its CC addresses."""
    try:
        checked = validate_email(address, check_deliverability=False, test_environment=True, allow_smtputf8=False)
    except EmailNotValidError as error:
        return None, str(error)
    return checked.normalized, None


# --- rules over the cleaned values ----------------------------------------------------------------------------


def check_row(values: dict[str, str], file: str, number: int, labels: dict[str, str]) -> list[Problem]:
    problems = []
    for key, value in values.items():
        if has_control_character(value):
            # TRANSLATORS: shown after "file:row [column]: ", the cell being the subject.
            message = _("contains a line break or control character; remove it")
            problems.append(Problem(file, message, number, labels[key]))
        elif key in LETTER_COLUMNS and QUESTION_MARK_IN_WORD.search(value):
            # TRANSLATORS: {value} is a cell's value; “ANSI CSV” and “CSV UTF-8” are the names of file types in
            # Excel's “Save As” list.
            message = _(
                "“{value}” has “?” in place of letters: the file was saved as ANSI CSV; save it again as “CSV UTF-8”"
            ).format(value=value)
            problems.append(Problem(file, message, number, labels[key]))
    for key in REQUIRED_VALUES:
        if not values.get(key):
            # TRANSLATORS: shown after "file:row [column]: ", the cell being the subject.
            problems.append(Problem(file, _("is empty; every recipient needs it"), number, labels[key]))
    order = values.get("order", "")
    if order and not (order.isdecimal() and int(order) > 0):
        # TRANSLATORS: {value} is the cell of the order column (STT) as typed.
        message = _("“{value}” is not a positive whole number").format(value=order)
        problems.append(Problem(file, message, number, labels["order"]))
    return problems


def add_duplicates(rows: list[Row], file: str, labels: dict[str, str]) -> None:
    """Every repeat of an email (case-insensitive) or order, naming the row it repeats."""
    for key in ("email", "order"):
        first_row: dict[str, int] = {}
        for row in rows:
            value = row.values.get(key, "").lower()
            if not value:
                continue
            if value in first_row:
                # TRANSLATORS: {value} is an email address or order number; {row} the row where it first appears.
                message = _("“{value}” is a duplicate of row {row}").format(value=value, row=first_row[value])
                row.problems.append(Problem(file, message, row.number, labels[key]))
            else:
                first_row[value] = row.number


def make_recipient(row: Row) -> Recipient:
    values = row.values
    cc = values.get("cc", "")
    return Recipient(
        row=row.number,
        order=int(values["order"]),
        group=values.get("group", ""),
        organisation=values["organisation"],
        position=values["position"],
        salutation=values["salutation"],
        name=values["name"],
        email=validated(values["email"])[0],  # the row has no problems: the address is valid
        cc=tuple(cc.split("; ")) if cc else (),
        phone=values.get("phone", ""),
        extra={key: value for key, value in values.items() if key not in COLUMN_ALIASES},
    )
