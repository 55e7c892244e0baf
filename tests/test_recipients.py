"""Reading and validating the recipients file: encodings, header aliases, and reporting every problem at once."""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from mailmerge.errors import InputError
from mailmerge.models import Recipient
from mailmerge.recipients import COLUMN_ALIASES, Reading, RejectedRow, folded, load_recipients, read_recipients
from mailmerge.vntext import clean_text

REPO = Path(__file__).resolve().parent.parent

HEADER = ["order", "group", "organisation", "position", "salutation", "name", "email", "cc"]
VIETNAMESE_HEADER = ["STT", "Nhóm", "Đơn vị", "Chức vụ", "Danh xưng", "Họ và tên", "Email", "Ghi chú"]
# File order differs from protocol order, so sorting is checked too. Names mix letters Windows-1258 has precomposed
# (Á, à, í, ô, ư, Đ) with letters it can only write as base letter + combining tone mark (ễ, ầ, ế, ệ, ớ, Ủ).
ROWS: list[list[int | str]] = [
    [
        2,
        "Phường 8",
        "Ủy ban MTTQ Việt Nam Phường 8",
        "Ủy viên Thường trực, Trưởng Ban Dân vận",
        "Ông",
        "Nguyễn Văn Đức",
        "duc.nv@phuong8.example",
        "vanphong@phuong8.example; thuky@phuong8.example",
    ],
    [
        1,
        "Phường 8",
        "Ủy ban MTTQ Việt Nam Phường 8",
        "Chủ tịch",
        "Bà",
        "Trần Thị Ánh Tuyết",
        "tuyet.tta@phuong8.example",
        "",
    ],
    [3, "Khu phố", "Ban điều hành Khu phố 2", "Trưởng ban", "Đồng chí", "Lê Hữu Phước", "phuoc.lh@kp2.example", ""],
]
EXPECTED = [
    Recipient(
        row=3,
        order=1,
        group="Phường 8",
        organisation="Ủy ban MTTQ Việt Nam Phường 8",
        position="Chủ tịch",
        salutation="Bà",
        name="Trần Thị Ánh Tuyết",
        email="tuyet.tta@phuong8.example",
    ),
    Recipient(
        row=2,
        order=2,
        group="Phường 8",
        organisation="Ủy ban MTTQ Việt Nam Phường 8",
        position="Ủy viên Thường trực, Trưởng Ban Dân vận",
        salutation="Ông",
        name="Nguyễn Văn Đức",
        email="duc.nv@phuong8.example",
        cc=("vanphong@phuong8.example", "thuky@phuong8.example"),
    ),
    Recipient(
        row=4,
        order=3,
        group="Khu phố",
        organisation="Ban điều hành Khu phố 2",
        position="Trưởng ban",
        salutation="Đồng chí",
        name="Lê Hữu Phước",
        email="phuoc.lh@kp2.example",
    ),
]
TEXT_FIELDS = ("group", "organisation", "position", "salutation", "name", "email")
TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")  # grave, acute, tilde, hook above, dot below

Writer = Callable[[Path, list[str], list[list[int | str]]], Path]


# --- writing one table the ways offices save it -------------------------------------------------------------------


def csv_text(header: list[str], rows: list[list[int | str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows([header, *rows])  # "\r\n" line ends, like Excel
    return buffer.getvalue()


def cp1258_form(text: str, *, precomposed: bool = True) -> str:
    """Text the way Windows-1258 stores it: â ê ô ơ ư ă đ are single bytes, tone marks are combining characters.

    Plain NFD is not encodable (cp1258 has no combining circumflex, breve or horn), so only tone marks are split
    off. With `precomposed`, letters the code page has whole (Á, à, í...) stay whole; others (ễ, Ủ...) never are.
    """
    out = []
    for char in unicodedata.normalize("NFC", text):
        if precomposed and char.encode("cp1258", errors="ignore"):
            out.append(char)
            continue
        decomposed = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
        out.append(base + "".join(c for c in decomposed if c in TONE_MARKS))
    return "".join(out)


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def write_utf8(folder: Path, header: list[str], rows: list[list[int | str]]) -> Path:
    return write_bytes(folder / "recipients.csv", csv_text(header, rows, ",").encode("utf-8"))


def write_utf8_nfd(folder: Path, header: list[str], rows: list[list[int | str]]) -> Path:
    text = unicodedata.normalize("NFD", csv_text(header, rows, ","))
    return write_bytes(folder / "recipients.csv", text.encode("utf-8"))


def write_utf8_bom_semicolon(folder: Path, header: list[str], rows: list[list[int | str]]) -> Path:
    return write_bytes(folder / "recipients.csv", codecs.BOM_UTF8 + csv_text(header, rows, ";").encode("utf-8"))


def write_utf16_tab(folder: Path, header: list[str], rows: list[list[int | str]]) -> Path:
    """Excel's "Unicode Text": UTF-16 with a BOM, tab-separated."""
    return write_bytes(folder / "recipients.txt", csv_text(header, rows, "\t").encode("utf-16"))


def write_cp1258(folder: Path, header: list[str], rows: list[list[int | str]]) -> Path:
    return write_bytes(folder / "recipients.csv", cp1258_form(csv_text(header, rows, ",")).encode("cp1258"))


def write_cp1258_all_combining(folder: Path, header: list[str], rows: list[list[int | str]]) -> Path:
    text = cp1258_form(csv_text(header, rows, ","), precomposed=False)
    return write_bytes(folder / "recipients.csv", text.encode("cp1258"))


def write_xlsx(folder: Path, header: list[str], rows: list[list[int | str]], *, nfd: bool = False) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    for values in [header, *rows]:
        sheet.append([unicodedata.normalize("NFD", v) if nfd and isinstance(v, str) else v for v in values])
    path = folder / "recipients.xlsx"
    workbook.save(path)
    return path


def write_xlsx_float_order(folder: Path, header: list[str], rows: list[list[int | str]]) -> Path:
    """Some programs store whole numbers as "1.0" (read back as a float); the user sees and means 1.

    openpyxl itself writes 1.0 as "1", so the sheet XML is rewritten to hold "1.0" in column A.
    """
    path = write_xlsx(folder, header, rows)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    members[sheet] = re.sub(rb'(<c r="A\d+" t="n"><v>)(\d+)(</v>)', rb"\1\2.0\3", members[sheet])
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert isinstance(next(load_workbook(path).active.iter_rows(min_row=2, values_only=True))[0], float)
    return path


def write_xlsx_nfd(folder: Path, header: list[str], rows: list[list[int | str]]) -> Path:
    return write_xlsx(folder, header, rows, nfd=True)


WRITERS: dict[str, Writer] = {
    "utf8-comma": write_utf8,
    "utf8-nfd": write_utf8_nfd,
    "utf8-bom-semicolon": write_utf8_bom_semicolon,
    "utf16-bom-tab": write_utf16_tab,
    "cp1258": write_cp1258,
    "cp1258-all-combining": write_cp1258_all_combining,
    "xlsx": write_xlsx,
    "xlsx-float-order": write_xlsx_float_order,
    "xlsx-nfd": write_xlsx_nfd,
}
all_writers = pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())


def write_csv(folder: Path, lines: list[str], name: str = "recipients.csv") -> Path:
    """A UTF-8 CSV written line by line, for files no office program would produce."""
    return write_bytes(folder / name, "".join(line + "\r\n" for line in lines).encode("utf-8"))


def problems_of(path: Path) -> list[tuple[int | None, str | None]]:
    with pytest.raises(InputError) as caught:
        load_recipients(path)
    return sorted(((p.row, p.column) for p in caught.value.problems), key=repr)


def single_problem(path: Path, **kwargs: str) -> str:
    with pytest.raises(InputError) as caught:
        load_recipients(path, **kwargs)
    assert len(caught.value.problems) == 1, caught.value
    return str(caught.value.problems[0])


def assert_all_nfc(recipients: list[Recipient]) -> None:
    for recipient in recipients:
        texts = [getattr(recipient, f) for f in TEXT_FIELDS] + list(recipient.cc) + list(recipient.extra.values())
        for text in texts:
            assert unicodedata.is_normalized("NFC", text), f"row {recipient.row}: {text!r} is not NFC"


# --- encodings ----------------------------------------------------------------------------------------------------


def test_expected_literals_are_nfc() -> None:
    """Guard: the comparisons below mean something only if this file's own literals are NFC."""
    assert_all_nfc(EXPECTED)
    assert all(unicodedata.is_normalized("NFC", str(value)) for row in ROWS for value in row)


def test_cp1258_helper_writes_both_precomposed_and_combining_letters(tmp_path: Path) -> None:
    raw = write_cp1258(tmp_path, HEADER, ROWS).read_bytes()
    assert "Á".encode("cp1258") in raw  # precomposed Á (0xC1), as in "Ánh"
    assert "Ủ".encode("cp1258", errors="ignore") == b""  # Ủ is not in the code page ...
    assert cp1258_form("Ủ").encode("cp1258") in raw  # ... so it is written as U + combining hook above
    assert cp1258_form("ễ").encode("cp1258") == b"\xea\xde"  # ê + combining tilde
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # so the loader really has to fall back to Windows-1258


@all_writers
def test_every_encoding_loads_the_same_nfc_recipients(tmp_path: Path, writer: Writer) -> None:
    recipients = load_recipients(writer(tmp_path, HEADER, ROWS))

    assert recipients == EXPECTED
    assert_all_nfc(recipients)
    assert [r.name for r in recipients] == ["Trần Thị Ánh Tuyết", "Nguyễn Văn Đức", "Lê Hữu Phước"]


def test_nfd_input_is_normalised_to_nfc(tmp_path: Path) -> None:
    path = write_utf8_nfd(tmp_path, HEADER, ROWS)
    assert not unicodedata.is_normalized("NFC", path.read_text(encoding="utf-8"))  # guard: the file really is NFD

    by_order = {r.order: r for r in load_recipients(path)}

    assert by_order[2].name == "Nguyễn Văn Đức"
    assert by_order[1].name == "Trần Thị Ánh Tuyết"
    assert by_order[2].organisation == "Ủy ban MTTQ Việt Nam Phường 8"
    assert unicodedata.is_normalized("NFC", by_order[2].organisation)


@pytest.mark.parametrize("writer", [write_utf8, write_xlsx], ids=["csv", "xlsx"])
def test_spaces_around_values_are_trimmed(tmp_path: Path, writer: Writer) -> None:
    padded = [[value if isinstance(value, int) else f"  {value} " for value in row] for row in ROWS]
    assert load_recipients(writer(tmp_path, HEADER, padded)) == EXPECTED


def test_encoding_from_the_campaign_overrides_detection(tmp_path: Path) -> None:
    path = write_cp1258(tmp_path, HEADER, ROWS)
    assert load_recipients(path, encoding="cp1258") == EXPECTED


@pytest.mark.parametrize("encoding", ["ascii", "no-such-encoding"])
def test_undecodable_file_or_unknown_encoding_is_a_clean_error(tmp_path: Path, encoding: str) -> None:
    path = write_utf8(tmp_path, HEADER, ROWS)
    assert "cannot decode" in single_problem(path, encoding=encoding)


# --- header aliases and extra columns -----------------------------------------------------------------------------


@pytest.mark.parametrize("writer", [write_utf8, write_cp1258, write_utf16_tab, write_xlsx], ids=lambda w: w.__name__)
def test_vietnamese_headers_are_accepted_and_unknown_columns_kept(tmp_path: Path, writer: Writer) -> None:
    rows = [[*row[:7], note] for row, note in zip(ROWS, ["Dự cả ngày", "", "Đến muộn 30 phút"], strict=True)]

    recipients = load_recipients(writer(tmp_path, VIETNAMESE_HEADER, rows))

    assert [dataclasses.replace(r, extra={}) for r in recipients] == [dataclasses.replace(r, cc=()) for r in EXPECTED]
    notes = [r.extra for r in recipients]
    assert notes == [{"Ghi chú": ""}, {"Ghi chú": "Dự cả ngày"}, {"Ghi chú": "Đến muộn 30 phút"}]
    assert recipients[2].as_template_data()["Ghi chú"] == "Đến muộn 30 phút"
    assert_all_nfc(recipients)


@pytest.mark.parametrize(
    ("spelling", "field"),
    [
        ("Thứ tự", "order"),
        ("Số thứ tự", "order"),
        ("stt", "order"),
        ("Thành phần", "group"),
        ("Cơ quan", "organisation"),
        ("Organization", "organisation"),
        ("CHỨC VỤ", "position"),
        ("Xưng hô", "salutation"),
        ("Họ tên", "name"),
        ("  Họ_và_tên ", "name"),
        ("Full name", "name"),
        ("E-mail", "email"),
        ("Thư điện tử", "email"),
        ("Số điện thoại", "phone"),
        ("SĐT", "phone"),
        ("Số TT", "order"),
        ("Nhóm", "group"),
        ("Đơn vị", "organisation"),
        ("Danh xưng", "salutation"),
        ("HỌ VÀ TÊN", "name"),
        ("ho va ten", "name"),
        ("Họ và tên (*)", "name"),
        ("EMAIL", "email"),
        ("Địa chỉ email", "email"),
        ("dia chi thu dien tu", "email"),
        ("Email:", "email"),
        ("Điện thoại", "phone"),
    ],
)
def test_header_alias_spellings(tmp_path: Path, spelling: str, field: str) -> None:
    header = [*HEADER, "phone"]
    header[header.index(field)] = spelling
    row = [7, "Nhóm A", "Phường 8", "Chủ tịch", "Ông", "Nguyễn Văn Đức", "duc@p8.example", "", "0909 123 456"]

    [recipient] = load_recipients(write_utf8(tmp_path, header, [row]))

    assert recipient.extra == {}
    assert (recipient.order, recipient.group, recipient.organisation, recipient.name) == (
        7,
        "Nhóm A",
        "Phường 8",
        "Nguyễn Văn Đức",
    )
    assert (recipient.salutation, recipient.email, recipient.phone) == ("Ông", "duc@p8.example", "0909 123 456")


def test_cc_column_is_recognised_under_its_vietnamese_name(tmp_path: Path) -> None:
    header = [*VIETNAMESE_HEADER[:7], "Đồng gửi"]

    recipients = load_recipients(write_utf8(tmp_path, header, ROWS))

    assert recipients == EXPECTED


def test_no_spelling_names_two_columns() -> None:
    spellings = [(folded(alias), name) for name, aliases in COLUMN_ALIASES.items() for alias in (name, *aliases)]
    assert len({key for key, _ in spellings}) == len(set(spellings))


@pytest.mark.parametrize("writer", [write_utf8, write_xlsx], ids=["csv", "xlsx"])
def test_group_column_is_optional(tmp_path: Path, writer: Writer) -> None:
    header = [column for column in HEADER if column != "group"]
    rows = [[value for column, value in zip(HEADER, row, strict=True) if column != "group"] for row in ROWS]

    recipients = load_recipients(writer(tmp_path, header, rows))

    assert recipients == [dataclasses.replace(r, group="") for r in EXPECTED]
    assert recipients[0].as_template_data()["group"] == ""


@pytest.mark.parametrize("writer", [write_utf8, write_xlsx], ids=["csv", "xlsx"])
def test_problems_name_the_column_as_the_files_header_does(tmp_path: Path, writer: Writer) -> None:
    header = ["STT", "Thành phần", "Đơn vị", "Chức vụ", "Danh xưng", "Họ và tên", "Thư điện tử"]
    ok = ["Phường 8", "Ủy ban MTTQ Việt Nam Phường 8", "Ủy viên", "Ông"]
    rows: list[list[int | str]] = [
        [1, *ok, "Nguyễn Văn An", "an@p8.example"],
        [2, *ok, "", "binh@p8.example"],  # 3: name empty
        [1, *ok, "Trần Cường", "cuong@@p8.example"],  # 4: order repeats row 2, address invalid
    ]

    with pytest.raises(InputError) as caught:
        load_recipients(writer(tmp_path, header, rows))
    printed = [str(problem) for problem in caught.value.problems]

    file = writer(tmp_path, header, rows).name
    assert printed[0] == f"{file}:3 [Họ và tên]: is empty; every recipient needs it"
    assert {line.split(": ", 1)[0] for line in printed[1:]} == {f"{file}:4 [STT]", f"{file}:4 [Thư điện tử]"}
    assert not any("[name]" in line or "[email]" in line or "[order]" in line for line in printed)


def test_a_column_given_twice_is_refused_rather_than_one_of_them_ignored(tmp_path: Path) -> None:
    header = [*HEADER, "E-mail"]
    rows = [[*row, f"other.{row[6]}"] for row in ROWS]

    message = single_problem(write_utf8(tmp_path, header, rows))

    assert message == "recipients.csv:1: the column “email” appears more than once (columns G, I); keep one"


# --- title rows above the header ----------------------------------------------------------------------------------

TITLE = "DANH SÁCH KHÁCH MỜI"
SUBTITLE = "Hội nghị sơ kết 200 ngày, giai đoạn 2"  # a comma, in a file that may be separated by ";"


def titled(rows: list[list[int | str]], *, excel_padding: bool) -> tuple[list[str], list[list[int | str]]]:
    """A title, a blank line and a subtitle above the header, as typed in Excel (which pads every row of a CSV
    export to the width of the sheet) or in a text editor (which does not); split as the writers take it."""
    pad = [""] * (len(HEADER) - 1 if excel_padding else 0)
    header: list[int | str] = [*HEADER]
    return [TITLE, *pad], [["", *pad], [SUBTITLE, *pad], header, *rows]


TITLED_WRITERS: dict[str, tuple[Writer, bool]] = {
    "csv-excel-export": (write_utf8, True),
    "csv-semicolon-hand-typed-title": (write_utf8_bom_semicolon, False),
    "utf16-tab": (write_utf16_tab, True),
    "cp1258": (write_cp1258, True),
    "xlsx": (write_xlsx, False),
}


@pytest.mark.parametrize(("writer", "excel_padding"), TITLED_WRITERS.values(), ids=TITLED_WRITERS.keys())
def test_title_rows_above_the_header_are_skipped_with_a_note(
    tmp_path: Path, writer: Writer, excel_padding: bool
) -> None:
    path = writer(tmp_path, *titled(ROWS, excel_padding=excel_padding))

    reading = read_recipients(path)

    assert reading.problems == []
    assert reading.recipients == [dataclasses.replace(r, row=r.row + 3) for r in EXPECTED]  # rows as Excel shows them
    [note] = reading.notes
    assert note.message == "the header was found on row 4; rows 1–3 are taken as a title and skipped"


@pytest.mark.parametrize("writer", [write_utf8, write_xlsx], ids=["csv", "xlsx"])
def test_rows_below_a_title_are_reported_with_the_row_number_the_user_sees(tmp_path: Path, writer: Writer) -> None:
    header: list[int | str] = [*HEADER]
    nameless = [*ROWS[0][:5], "", *ROWS[0][6:]]
    path = writer(tmp_path, [TITLE], [header, *ROWS[1:], nameless])

    reading = read_recipients(path)

    assert [(p.row, p.column) for p in reading.problems] == [(5, "name")]
    assert [r.row for r in reading.recipients] == [3, 4]
    assert [n.message for n in reading.notes] == [
        "the header was found on row 2; row 1 is taken as a title and skipped"
    ]


@pytest.mark.parametrize("writer", [write_utf8, write_xlsx], ids=["csv", "xlsx"])
@pytest.mark.parametrize(
    ("header", "missing"),
    [
        (["STT", "Đơn vị", "Họ và tên", "Email"], ["position", "salutation"]),  # a header, lacking two columns
        (["STT", "Đơn vị", "Chức vụ", "Danh xưng", "Họ và tên", "Hộp thư"], ["email"]),  # email under another name
    ],
    ids=["columns-missing", "email-unrecognised"],
)
def test_missing_columns_under_a_title_are_reported_against_the_header_row(
    tmp_path: Path, writer: Writer, header: list[str], missing: list[str]
) -> None:
    row = [1, "Phường 8", "Chủ tịch", "Ông", "Nguyễn An", "a@p8.example"][: len(header)]
    path = writer(tmp_path, [TITLE], [[], header, row])

    with pytest.raises(InputError) as caught:
        load_recipients(path)
    problems = caught.value.problems

    assert [problem.row for problem in problems] == [3] * len(missing)  # not seven lines against the title
    assert [problem.message.split("“")[1].split("”")[0] for problem in problems] == missing
    assert all(", ".join(header) in problem.message for problem in problems)


def test_a_file_with_no_header_at_all_is_reported_against_row_1(tmp_path: Path) -> None:
    path = write_utf8(tmp_path, [str(value) for value in ROWS[0]], ROWS[1:])

    problems = problems_of(path)

    assert problems == [(1, None)] * 6  # every required column; "group" is optional


# --- addresses pasted from Outlook --------------------------------------------------------------------------------


def one_row(email: str, cc: str = "") -> list[list[int | str]]:
    return [[1, "Phường 8", "Ủy ban MTTQ Việt Nam Phường 8", "Chủ tịch", "Ông", "Nguyễn Văn Đức", email, cc]]


@pytest.mark.parametrize("writer", [write_utf8, write_xlsx], ids=["csv", "xlsx"])
@pytest.mark.parametrize(
    "cell",
    [
        "Nguyễn Văn Đức <duc.nv@phuong8.example>",
        '"Nguyễn, Văn Đức" <duc.nv@phuong8.example>',
        "duc.nv@phuong8.example;",
        "duc.nv@phuong8.example ,",
        "mailto:duc.nv@phuong8.example",
        "MAILTO:duc.nv@phuong8.example",
        "<duc.nv@phuong8.example>",
        "  Nguyễn Văn Đức <mailto:duc.nv@phuong8.example>; ",
    ],
)
def test_an_address_pasted_from_outlook_is_cleaned_with_a_note(tmp_path: Path, writer: Writer, cell: str) -> None:
    reading = read_recipients(writer(tmp_path, HEADER, one_row(cell)))

    assert reading.problems == []
    assert [r.email for r in reading.recipients] == ["duc.nv@phuong8.example"]
    [note] = reading.notes
    assert (note.row, note.column) == (2, "email")
    assert note.message == f"“{cell.strip()}” was cleaned to “duc.nv@phuong8.example”"


def test_cc_addresses_pasted_from_outlook_are_cleaned_with_a_note(tmp_path: Path) -> None:
    cell = '"Văn phòng, Phường 8" <vanphong@phuong8.example>; Thư ký <mailto:thuky@phuong8.example>,'

    reading = read_recipients(write_utf8(tmp_path, HEADER, one_row("duc.nv@phuong8.example", cell)))

    assert [r.cc for r in reading.recipients] == [("vanphong@phuong8.example", "thuky@phuong8.example")]
    assert [(n.row, n.column) for n in reading.notes] == [(2, "cc")]
    assert "“vanphong@phuong8.example; thuky@phuong8.example”" in reading.notes[0].message


@pytest.mark.parametrize(
    "cc", ["vanphong@phuong8.example; thuky@phuong8.example", "vanphong@phuong8.example,thuky@phuong8.example"]
)
def test_plain_addresses_give_no_note(tmp_path: Path, cc: str) -> None:
    reading = read_recipients(write_utf8(tmp_path, HEADER, one_row(" duc.nv@phuong8.example ", cc)))

    assert [r.cc for r in reading.recipients] == [("vanphong@phuong8.example", "thuky@phuong8.example")]
    assert reading.notes == []


@pytest.mark.parametrize(
    ("email", "cc", "column", "shown"),
    [
        ("Nguyễn Văn Đức <duc.nv@@phuong8.example>", "", "email", "Nguyễn Văn Đức <duc.nv@@phuong8.example>"),
        ("duc.nv@phuong8.example duc2@phuong8.example", "", "email", "duc.nv@phuong8.example duc2@phuong8.example"),
        ("Nguyễn Văn Đức", "", "email", "Nguyễn Văn Đức"),
        ("duc.nv@phuong8.example", "Văn phòng <vanphong@phuong8.example>; không-hợp-lệ", "cc", "không-hợp-lệ"),
    ],
)
def test_a_cell_that_is_still_not_an_address_after_cleaning_is_an_error(
    tmp_path: Path, email: str, cc: str, column: str, shown: str
) -> None:
    message = single_problem(write_utf8(tmp_path, HEADER, one_row(email, cc)))

    assert message.startswith(f"recipients.csv:2 [{column}]: “{shown}” is not a valid address: ")


def test_two_addresses_in_the_email_column_say_where_the_second_belongs(tmp_path: Path) -> None:
    path = write_utf8(tmp_path, HEADER, one_row("duc.nv@phuong8.example; vanphong@phuong8.example"))
    assert "move the others to the cc column" in single_problem(path)


@pytest.mark.parametrize("column", ["email", "cc"])
def test_a_line_break_in_an_address_cell_is_one_problem(tmp_path: Path, column: str) -> None:
    injected = "duc.nv@phuong8.example\r\nBcc: all@phuong8.example"
    row = one_row(injected) if column == "email" else one_row("duc.nv@phuong8.example", injected)
    message = single_problem(write_utf8(tmp_path, HEADER, row))
    assert message.startswith(f"recipients.csv:2 [{column}]: contains a line break")


# --- invisible characters copied from Word, Excel and web pages ---------------------------------------------------


def with_invisible_characters(row: list[int | str]) -> list[int | str]:
    order, group, organisation, position, salutation, name, email, cc = row
    return [
        order,
        f"\ufeff{group}",  # BOM
        str(organisation).replace(" ", "\u00a0\u00a0", 1),  # two no-break spaces
        f"\u200e{position}\u200f",  # left-to-right and right-to-left marks
        f"{salutation}\u3000",  # ideographic space
        str(name).replace(" ", "\u200b ", 1).replace("n", "n\u00ad", 1),  # zero-width space, soft hyphen
        str(email).replace("@", "\u200b@").replace(".example", "\u2060.example") + "\u00a0",
        str(cc).replace("; ", ";\u202f\u202f"),  # narrow no-break spaces
    ]


@pytest.mark.parametrize("writer", [write_utf8, write_xlsx], ids=["csv", "xlsx"])
def test_invisible_characters_are_removed_and_unicode_spaces_made_plain(tmp_path: Path, writer: Writer) -> None:
    header = ["STT", "Nhóm\u00a0", "\u200bĐơn vị", "Chức\u00a0vụ", "Danh xưng", "Họ\u00a0và\u00a0tên", "Email", "CC"]

    reading = read_recipients(writer(tmp_path, header, [with_invisible_characters(row) for row in ROWS]))

    assert reading.problems == []
    assert reading.recipients == EXPECTED
    noted = {(note.row, note.column) for note in reading.notes}
    changed = {"Nhóm", "Chức vụ", "Họ và tên", "Email"}  # the cells that had invisible characters
    assert noted == {(row, column) for row in (2, 3, 4) for column in changed}
    name_note = next(n for n in reading.notes if (n.row, n.column) == (3, "Họ và tên"))
    assert name_note.message == (
        "invisible characters copied from another program (U+00AD, U+200B) were removed; "
        "the value is “Trần Thị Ánh Tuyết”"
    )


def test_every_unicode_space_is_made_plain() -> None:
    spaces = [chr(code) for code in range(0x110000) if unicodedata.category(chr(code)) == "Zs"]
    assert [clean_text(f"a{space}{space}b") for space in spaces] == ["a b"] * len(spaces)


# --- XLSX cells outside the table ---------------------------------------------------------------------------------


def test_an_xlsx_value_in_a_column_without_a_header_names_the_cell(tmp_path: Path) -> None:
    rows = [[*ROWS[0], "", "gọi trước"], ROWS[1], ROWS[2]]  # J2, two columns right of the last header (H)

    message = single_problem(write_xlsx(tmp_path, HEADER, rows))

    assert message == (
        "recipients.xlsx:2 [column J]: cell J2 has a value but column J has no header; give the column a header "
        "or clear it"
    )


@pytest.mark.parametrize("writer", [write_utf8, write_xlsx], ids=["csv", "xlsx"])
def test_a_value_under_an_empty_header_cell_names_the_cell(tmp_path: Path, writer: Writer) -> None:
    header = [*HEADER, "", "Ghi chú"]
    rows = [[*ROWS[0], "", ""], [*ROWS[1], "x", "đến muộn"], [*ROWS[2], "", ""]]

    message = single_problem(writer(tmp_path, header, rows))

    assert "delimiter" not in message
    assert message.startswith(f"{writer(tmp_path, header, rows).name}:3 [column I]: cell I3 has a value but column I")


# --- what read_recipients returns ---------------------------------------------------------------------------------


def test_reading_keeps_the_valid_recipients_and_the_rejected_rows_with_their_cleaned_values(tmp_path: Path) -> None:
    rows = [*ROWS, [4, "Khu phố", "Ban điều hành Khu phố 3", "Trưởng ban", "Ông", "", "Lê Bảo <bao@kp3.example>", ""]]
    header = ["STT", "Nhóm", "Đơn vị", "Chức vụ", "Danh xưng", "Họ và tên", "Email", "Đồng gửi"]

    reading = read_recipients(write_xlsx(tmp_path, header, rows))

    assert isinstance(reading, Reading)
    assert reading.recipients == EXPECTED
    [problem] = reading.problems
    assert reading.rejected == [
        RejectedRow(
            row=5,
            values={
                "order": "4",
                "group": "Khu phố",
                "organisation": "Ban điều hành Khu phố 3",
                "position": "Trưởng ban",
                "salutation": "Ông",
                "name": "",
                "email": "bao@kp3.example",
                "cc": "",
            },
            problems=[problem],
        )
    ]
    assert (problem.row, problem.column) == (5, "Họ và tên")
    assert [(note.row, note.column) for note in reading.notes] == [(5, "Email")]


# --- bad input: every problem, located ----------------------------------------------------------------------------


def test_every_problem_in_a_file_is_reported_at_once_with_row_and_column(tmp_path: Path) -> None:
    ok = ["Phường 8", "Ủy ban MTTQ Việt Nam Phường 8", "Ủy viên", "Ông"]
    rows: list[list[int | str]] = [
        [1, *ok, "Nguyễn Văn An", "an.nv@p8.example", ""],  # 2: fine, first holder of an email
        [2, *ok, "", "b@p8.example", ""],  # 3: name missing
        [3, *ok, "Trần Bình", "binh.tran@@p8.example", ""],  # 4: invalid email
        [4, *ok, "Nguyễn Văn An", "AN.NV@P8.example", ""],  # 5: same email as row 2, other case
        [5, *ok, "Lê Cường", "cuong@p8.example", "", "thừa"],  # 6: one field too many
        [6, *ok, "Phạm Dũng\r\nBcc: all@p8.example", "dung@p8.example", ""],  # 7: header injection
        [],  # 8: blank line, skipped but still a row of the spreadsheet
        [7, *ok, "Nguy?n V?n A", "a@p8.example", ""],  # 9: "?" for letters: saved as ANSI
        ["bảy", *ok, "Hồ Em", "em@p8.example", ""],  # 10: order is not a number
        [20, *ok, "Võ Giang", "giang@p8.example", ""],  # 11: first holder of order 20
        [20, *ok, "Đỗ Hà", "ha@p8.example", ""],  # 12: duplicate order
        [21, *ok, "Lý Khánh", "khanh@p8.example", "vanphong@p8.example; không-hợp-lệ"],  # 13: bad CC
        [22, "Phường 8", "Ủy ban", "Chủ\x0btịch", "Bà", "Mai Lan", "lan@p8.example", ""],  # 14: control char
        [23, *ok, "Trịnh Long", "long@p8.example", ""],  # 15: fine
    ]
    path = write_bytes(tmp_path / "recipients.csv", csv_text(HEADER, rows).encode("utf-8"))

    with pytest.raises(InputError) as caught:
        load_recipients(path)
    problems = caught.value.problems

    located = {(p.row, p.column): p.message for p in problems}
    assert sorted(located, key=repr) == sorted(
        [
            (3, "name"),
            (4, "email"),
            (5, "email"),
            (6, None),
            (7, "name"),
            (9, "name"),
            (10, "order"),
            (12, "order"),
            (13, "cc"),
            (14, "position"),
        ],
        key=repr,
    )
    assert len(problems) == len(located)  # nothing reported twice
    assert all(p.file == "recipients.csv" for p in problems)
    assert "row 2" in located[5, "email"]
    assert "row 11" in located[12, "order"]
    assert "has 9 fields, the header has 8" in located[6, None]
    assert "line break or control character" in located[7, "name"]
    assert "control character" in located[14, "position"]
    assert "ANSI" in located[9, "name"]
    assert "không-hợp-lệ" in located[13, "cc"]
    assert "recipients.csv:13 [cc]" in str(caught.value)  # the message the CLI prints


def test_duplicate_email_is_reported_even_when_the_row_has_another_problem(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        [
            ",".join(HEADER),
            "1,g,Phường 8,p,Ông,Nguyễn Văn An,an@p8.example,",
            "x,g,Phường 8,p,Ông,Nguyễn Văn An,an@p8.example,",
        ],
    )
    assert problems_of(path) == sorted([(3, "order"), (3, "email")], key=repr)


@pytest.mark.parametrize("value", ["Nguy?n V?n A", "?inh", "Tr?n", "Ph??ng 8"])
def test_question_mark_touching_a_letter_is_flagged(tmp_path: Path, value: str) -> None:
    path = write_csv(tmp_path, [",".join(HEADER), f"1,g,Phường 8,p,Ông,{value},a@p8.example,"])
    assert problems_of(path) == [(2, "name")]


@pytest.mark.parametrize("note", ["Xác nhận tham dự ?", "?", "Dự: có / không ( ? )"])
def test_question_mark_not_touching_a_letter_is_accepted(tmp_path: Path, note: str) -> None:
    path = write_utf8(
        tmp_path, [*HEADER, "Ghi chú"], [[1, "g", "Phường 8", "p", "Ông", "Nguyễn An", "a@p8.example", "", note]]
    )
    [recipient] = load_recipients(path)
    assert recipient.extra == {"Ghi chú": note}


@pytest.mark.parametrize("order", ["0", "-3", "1.5", "1,0", "một"])
def test_order_must_be_a_positive_whole_number(tmp_path: Path, order: str) -> None:
    path = write_utf8(tmp_path, HEADER, [[order, "g", "Phường 8", "p", "Ông", "Nguyễn An", "a@p8.example", ""]])
    assert problems_of(path) == [(2, "order")]


@pytest.mark.parametrize("order", ["²", "①"])
def test_order_with_a_digit_like_symbol_is_reported_not_a_crash(tmp_path: Path, order: str) -> None:
    path = write_utf8(tmp_path, HEADER, [[order, "g", "Phường 8", "p", "Ông", "Nguyễn An", "a@p8.example", ""]])
    assert problems_of(path) == [(2, "order")]


@pytest.mark.parametrize("writer", [write_utf8, write_xlsx], ids=["csv", "xlsx"])
def test_all_missing_required_columns_are_reported_at_once(tmp_path: Path, writer: Writer) -> None:
    path = writer(tmp_path, ["STT", "Họ và tên", "Email", "Ghi chú"], [[1, "Nguyễn An", "a@p8.example", ""]])

    with pytest.raises(InputError) as caught:
        load_recipients(path)
    problems = caught.value.problems

    missing = {"organisation": "Đơn vị", "position": "Chức vụ", "salutation": "Danh xưng"}  # "group" is optional
    assert len(problems) == len(missing)
    for problem, (column, vietnamese) in zip(problems, missing.items(), strict=True):
        assert f"“{column}” ({vietnamese})" in problem.message  # either spelling fixes it
        assert "STT, Họ và tên, Email, Ghi chú" in problem.message
        assert problem.row == 1


@pytest.mark.parametrize(
    "content", [b"", codecs.BOM_UTF8, "".encode("utf-16")], ids=["empty", "bom-only", "utf16-bom-only"]
)
def test_empty_csv_file(tmp_path: Path, content: bytes) -> None:
    assert "empty" in single_problem(write_bytes(tmp_path / "recipients.csv", content))


def test_empty_xlsx_sheet(tmp_path: Path) -> None:
    path = tmp_path / "recipients.xlsx"
    Workbook().save(path)
    assert "empty" in single_problem(path)


@pytest.mark.parametrize(
    ("writer", "rows"),
    [
        (write_utf8, []),
        (write_utf8_bom_semicolon, [[""] * 8, [" "] * 8]),  # what Excel saves for rows it considers used
        (write_xlsx, []),
        (write_xlsx, [[None] * 8]),
    ],
    ids=["csv", "csv-blank-rows", "xlsx", "xlsx-blank-row"],
)
def test_header_without_rows(tmp_path: Path, writer: Writer, rows: list[list[int | str]]) -> None:
    assert "no recipients" in single_problem(writer(tmp_path, HEADER, rows))


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "recipients.csv"
    message = single_problem(path)
    assert str(path) in message
    assert "not found" in message


def zip_without_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        csv_text(HEADER, ROWS).encode("utf-8"),  # a CSV renamed to .xlsx
        b"",
        bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504),  # an old binary .xls (OLE2) renamed to .xlsx
        zip_without_workbook(),
    ],
    ids=["csv-text", "empty", "ole2-xls", "zip-without-workbook"],
)
def test_file_named_xlsx_that_is_not_a_workbook(tmp_path: Path, content: bytes) -> None:
    path = write_bytes(tmp_path / "recipients.xlsx", content)
    message = single_problem(path)
    assert "recipients.xlsx" in message
    assert "not a readable .xlsx workbook" in message


# --- the repository's own recipients file -------------------------------------------------------------------------


def test_repository_recipients_csv() -> None:
    path = REPO / "recipients.csv"
    assert path.read_bytes().startswith(codecs.BOM_UTF8)

    recipients = load_recipients(path)

    assert [r.order for r in recipients] == list(range(1, 66))
    emails = [r.email.lower() for r in recipients]
    assert len(set(emails)) == 65
    for address in emails + [cc.lower() for r in recipients for cc in r.cc]:
        assert address.rpartition("@")[2].endswith(".example"), address
    assert {r.salutation for r in recipients} <= {"Đồng chí", "Ông", "Bà"}
    assert all(r.name and r.organisation for r in recipients)
    assert_all_nfc(recipients)
