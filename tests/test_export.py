"""`mailmerge export`: five invitations really sent to the test's SMTP server, replies and a bounce
imported, then the status list written as CSV, XLSX and JSON and read back as a spreadsheet would."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from mailmerge.vntext import name_key

from .followup_fixtures import run, write

FORMULA = '=HYPERLINK("http://evil.example","Bấm")'
PHONE = "02838552345"
PLUS_PHONE = "+84 28 3855 2346"
HEADERS_VI = [
    "STT",
    "Nhóm",
    "Đơn vị",
    "Chức vụ",
    "Danh xưng",
    "Họ và tên",
    "Thư điện tử",
    "Đồng gửi",
    "Điện thoại",
    "Tình trạng",
    "Thời điểm gửi",
    "Phản hồi SMTP / lỗi",
    "Lý do bị trả lại",
    "Thời điểm trả lời",
    "Trả lời",
    "Người dự thay",
    "Số thư nhắc đã gửi",
    "Lần cập nhật cuối",
    "Trích thư trả lời",
]
HEADERS_EN = [
    "No.",
    "Group",
    "Organisation",
    "Position",
    "Form of address",
    "Name",
    "Email",
    "CC",
    "Phone",
    "State",
    "Sent at",
    "SMTP reply / problem",
    "Bounce reason",
    "Replied at",
    "Answer",
    "Delegate",
    "Reminders sent",
    "Last event",
    "Reply excerpt",
]
JSON_KEYS = [
    "order",
    "group",
    "organisation",
    "position",
    "salutation",
    "name",
    "email",
    "cc",
    "phone",
    "state",
    "delivery",
    "sent_at",
    "smtp_reply",
    "bounce",
    "replied_at",
    "answer",
    "delegate",
    "reminders",
    "last_event_at",
    "reply_excerpt",
]


@pytest.fixture
def send_dir(send_dir: Path) -> Path:
    """The five recipients, one named like a formula, one with a landline that starts with 0, one with +84."""
    path = send_dir / "recipients.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    rows[1][8] = PHONE
    rows[2][5] = FORMULA
    rows[3][8] = PLUS_PHONE
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")
    return send_dir


@pytest.fixture
def answered(send_dir: Path, mailbox: dict[str, bytes], tmp_path: Path) -> Path:
    """Sent to all five; #1 attends, #2 declines, #3 bounced."""
    chosen = {name: mailbox[name] for name in ("1-reply.eml", "2-reply-without-thread.eml", "3-bounce.eml")}
    imported = run("replies", "import", write(tmp_path / "mail", chosen), "--campaign", send_dir)
    assert imported.exit_code == 0, imported.output
    return send_dir


def table(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_is_utf8_with_bom_crlf_and_vietnamese_headers_and_labels_by_default(answered):
    result = run("export", "--campaign", answered)
    assert result.exit_code == 0, result.output
    data = result.stdout_bytes
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == 6 and b"\n" not in data.replace(b"\r\n", b"")
    rows = table(data)
    assert rows[0] == HEADERS_VI
    assert [row[0] for row in rows[1:]] == ["1", "2", "3", "4", "5"]
    assert [row[9] for row in rows[1:]] == ["đã gửi", "đã gửi", "bị trả lại", "đã gửi", "đã gửi"]
    assert [row[14] for row in rows[1:3]] == ["tham dự", "vắng"]


def test_csv_in_english_neutralises_formulas_and_keeps_phones_as_typed(answered):
    result = run("export", "--lang", "en", "--campaign", answered)
    assert result.exit_code == 0, result.output
    header, *rows = table(result.stdout_bytes)
    assert header == HEADERS_EN
    by_id = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert by_id["2"]["Name"] == "'" + FORMULA
    assert by_id["3"]["Phone"] == "'" + PLUS_PHONE and by_id["1"]["Phone"] == PHONE
    assert by_id["1"]["Answer"] == "attending" and by_id["2"]["Answer"] == "declined"
    assert by_id["3"]["State"] == "bounced" and "5.1.1" in by_id["3"]["Bounce reason"]
    assert by_id["4"]["Answer"] == "no answer" and by_id["1"]["SMTP reply / problem"].startswith("250 ")
    assert by_id["1"]["CC"] == "vanphong@mttq-tphcm.example"
    assert datetime.strptime(by_id["1"]["Sent at"], "%Y-%m-%d %H:%M:%S")
    assert by_id["1"]["Replied at"].startswith("2020-08-22 ")


def test_xlsx_has_a_bold_frozen_filtered_header_text_phones_real_times_and_three_sheets(answered, tmp_path):
    target = tmp_path / "tinh-trang.xlsx"
    result = run("export", "-o", target, "--lang", "en", "--campaign", answered)
    assert result.exit_code == 0, result.output
    assert "5 recipients written to" in result.output
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["Recipients", "Totals", "Events"]
    sheet = book["Recipients"]
    assert [cell.value for cell in sheet[1]] == HEADERS_EN
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:S6"
    phone = sheet.cell(row=2, column=9)
    assert phone.value == PHONE and phone.data_type == "s"
    name = sheet.cell(row=3, column=6)
    assert name.value == FORMULA and name.data_type == "s"  # text, not a formula
    assert isinstance(sheet.cell(row=2, column=11).value, datetime)  # sent at
    assert isinstance(sheet.cell(row=2, column=14).value, datetime)  # replied at
    assert sheet.cell(row=2, column=1).value == 1 and sheet.column_dimensions["F"].width > 10
    totals = [[cell.value for cell in row] for row in book["Totals"].iter_rows()]
    assert totals[0][:2] == ["Group", "Recipients"]
    assert totals[-1][:2] == ["Total", 5]
    columns = dict(zip(totals[0], totals[-1], strict=True))
    assert columns["sent"] == 4 and columns["bounced"] == 1 and columns["attending"] == 1
    assert [row[:2] for row in totals[1:-1]] == [["Thành phố", 4], ["Thường trực Quận ủy", 1]]
    events = book["Events"]
    assert [cell.value for cell in events[1]][:4] == ["Time", "No.", "Message", "State"]
    kept = [[cell.value for cell in row] for row in events.iter_rows(min_row=2)]
    assert len(kept) == 18  # queued, sending, sent for each of the five; two replies and a bounce read back
    assert isinstance(kept[0][0], datetime) and kept[0][2] == "invitation"
    assert sum(1 for row in kept if row[3] == "sent" and row[4] == 250) == 5
    assert [row[3] for row in kept[15:]] == ["replied", "replied", "bounced"]


def test_json_has_the_documented_keys_codes_and_iso_times(answered):
    result = run("export", "--format", "json", "--campaign", answered)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout_bytes)
    assert list(document) == ["campaign", "generated_at", "recipients"]
    rows = document["recipients"]
    assert [list(row) for row in rows] == [JSON_KEYS] * 5
    first, second, third = rows[:3]
    assert first["order"] == 1 and first["answer"] == "attending" and first["phone"] == PHONE
    assert first["cc"] == ["vanphong@mttq-tphcm.example"]
    assert datetime.fromisoformat(first["sent_at"]).tzinfo is not None
    assert datetime.fromisoformat(first["replied_at"]) == datetime.fromisoformat("2020-08-22T09:30:00+07:00")
    assert second["name"] == FORMULA and second["answer"] == "declined"
    assert third["state"] == "bounced" and third["delivery"] == "bounced"


def test_state_and_group_choose_the_rows(answered):
    chosen = ("--state", "sent", "--group", "Thường trực Quận ủy")
    sent = run("export", "--format", "json", *chosen, "--campaign", answered)
    assert sent.exit_code == 0, sent.output
    assert [row["order"] for row in json.loads(sent.stdout_bytes)["recipients"]] == [5]
    bounced = run("export", "--format", "json", "--state", "sent", "--group", "Thành phố", "--campaign", answered)
    assert [row["order"] for row in json.loads(bounced.stdout_bytes)["recipients"]] == [1, 2, 3, 4]
    city = run("export", "--lang", "en", "--group", "Thành phố", "--campaign", answered)
    assert [row[0] for row in table(city.stdout_bytes)[1:]] == ["1", "2", "3", "4"]
    unknown = run("export", "--group", "Không có", "--campaign", answered)
    assert unknown.exit_code == 1 and "no group Không có; groups: Thành phố, Thường trực Quận ủy" in unknown.output


def test_a_file_not_ours_is_kept_without_force_and_our_own_unchanged_one_is_replaced(answered, tmp_path):
    target = tmp_path / "status.csv"
    target.write_bytes(b"kept")
    refused = run("export", "-o", target, "--campaign", answered)
    assert refused.exit_code == 1 and "is not a file mailmerge wrote (or it was changed since)" in refused.output
    assert target.read_bytes() == b"kept"
    replaced = run("export", "-o", target, "--force", "--lang", "en", "--campaign", answered)
    assert replaced.exit_code == 0, replaced.output
    assert table(target.read_bytes())[0] == HEADERS_EN
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".status.csv")) == []
    again = run("export", "-o", target, "--campaign", answered)  # ours, unchanged: refreshed without --force
    assert again.exit_code == 0, again.output
    assert table(target.read_bytes())[0] == HEADERS_VI
    target.write_bytes(target.read_bytes() + b"ghi chu cua van phong\r\n")
    edited = run("export", "-o", target, "--campaign", answered)
    assert edited.exit_code == 1 and target.read_bytes().endswith(b"ghi chu cua van phong\r\n")


def test_xlsx_needs_a_file_and_an_unknown_extension_needs_a_format(answered, tmp_path):
    screen = run("export", "--format", "xlsx", "--campaign", answered)
    assert screen.exit_code == 1 and "an XLSX file cannot go to the screen" in screen.output
    unknown = run("export", "-o", tmp_path / "status.txt", "--campaign", answered)
    assert unknown.exit_code == 1 and "cannot tell the format of" in unknown.output
    assert not (tmp_path / "status.txt").exists()


def test_sort_by_name_lists_people_by_given_name_in_vietnamese_order(answered):
    result = run("export", "--format", "json", "--sort", "name", "--campaign", answered)
    assert result.exit_code == 0, result.output
    names = [row["name"] for row in json.loads(result.stdout_bytes)["recipients"]]
    by_protocol = [
        row["name"]
        for row in json.loads(run("export", "--format", "json", "--campaign", answered).stdout_bytes)["recipients"]
    ]
    assert names == sorted(by_protocol, key=name_key) and names != by_protocol


def test_the_export_comes_from_the_ledger_without_the_recipients_file(answered):
    (answered / "recipients.csv").unlink()
    result = run("export", "--format", "json", "--campaign", answered)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout_bytes)["recipients"]
    assert len(rows) == 5 and rows[0]["phone"] == PHONE and rows[0]["cc"] == ["vanphong@mttq-tphcm.example"]
    assert rows[0]["answer"] == "attending" and rows[2]["state"] == "bounced"


def test_a_relative_ledger_path_is_read(answered, monkeypatch):
    monkeypatch.chdir(answered)
    result = run("export", "--format", "json", "--ledger", "ledger.db", "--campaign", ".")
    assert result.exit_code == 0, result.output
    assert [row["answer"] for row in json.loads(result.stdout_bytes)["recipients"][:2]] == ["attending", "declined"]
