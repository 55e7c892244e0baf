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
from mailmerge.recipients import load_recipients

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

    missing = ["group", "organisation", "position", "salutation"]
    assert len(problems) == len(missing)
    for problem, column in zip(problems, missing, strict=True):
        assert f"“{column}”" in problem.message
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
