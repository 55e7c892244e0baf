"""`mailmerge report`: invitations really sent to the test's SMTP server, replies, an auto-reply and a bounce
imported and answers recorded by hand, then the printable report laid out by WeasyPrint and read back from
the PDF: its numbers against `status`, its lists, its page numbers and repeated table headers."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import openpyxl
import pdfplumber
import pytest

from . import mail_factory as mail
from .campaign_files import set_table
from .followup_fixtures import run, status, write

SIGN_IN_HEADER = ["STT", "Họ và tên", "Chức vụ, đơn vị", "Ký tên"]


@pytest.fixture
def answered(send_dir: Path, mailbox: dict[str, bytes], tmp_path: Path) -> Path:
    """Sent to all five; #1 attends, #2 declines, #3 bounced, #4 only an auto-reply, #5 sends a delegate."""
    names = ("1-reply.eml", "2-reply-without-thread.eml", "3-bounce.eml", "4-out-of-office.eml")
    imported = run(
        "replies", "import", write(tmp_path / "mail", {n: mailbox[n] for n in names}), "--campaign", send_dir
    )
    assert imported.exit_code == 0, imported.output
    marked = run("mark", "5", "--delegate", "Lê Thị Hồng Vân", "--campaign", send_dir)
    assert marked.exit_code == 0, marked.output
    return send_dir


def report(folder: Path, target: Path, *args: str) -> list[pdfplumber.page.Page]:
    result = run("report", "-o", target, *args, "--campaign", folder)
    assert result.exit_code == 0, result.output
    return pdfplumber.open(io.BytesIO(target.read_bytes())).pages


def flat(page: pdfplumber.page.Page) -> str:
    return " ".join((page.extract_text() or "").split())


def tables(page: pdfplumber.page.Page) -> list[list[list[str]]]:
    """The page's ruled tables, each cell's lines joined by spaces."""
    return [[[" ".join((cell or "").split()) for cell in row] for row in table] for table in page.extract_tables()]


def test_totals_agree_with_status_and_pages_are_numbered_from_the_second(answered, tmp_path):
    target = tmp_path / "bao-cao.pdf"
    pages = report(answered, target)
    assert len(pages) == 3
    first = flat(pages[0])
    assert first.startswith("ỦY BAN MTTQ VIỆT NAM") and "BAN THƯỜNG TRỰC Quận 5, ngày " in first
    assert "BÁO CÁO Tình hình gửi giấy mời và xác nhận tham dự" in first
    assert "Giấy mời số 58/GM-MTTQ-BTT ngày 21/08/2020" in first
    totals = status(answered)["totals"]
    answers, delivery = totals["by_answer"], totals["by_delivery"]
    expected = {
        "Số khách mời": totals["recipients"],
        "Giấy mời đã được máy chủ thư nhận": totals["by_state"]["sent"],
        "trong đó bị trả lại": delivery["bounced"],
        "Tham dự": answers["attending"],
        "Cử người dự thay": answers["delegate"],
        "Vắng": answers["declined"],
        "Chưa trả lời (kể cả chỉ có thư trả lời tự động)": answers["no answer"] + answers["auto-reply"] - 1,
        "Dự kiến có mặt": answers["attending"] + answers["delegate"],
    }
    assert expected == {
        "Số khách mời": 5,
        "Giấy mời đã được máy chủ thư nhận": 5,
        "trong đó bị trả lại": 1,
        "Tham dự": 1,
        "Cử người dự thay": 1,
        "Vắng": 1,
        "Chưa trả lời (kể cả chỉ có thư trả lời tự động)": 1,  # the bounced invitee has "no answer" too
        "Dự kiến có mặt": 2,
    }
    for what, count in expected.items():
        assert f" {what} {count} " in first, what
    assert "Bị máy chủ thư từ chối" not in first  # nothing failed: the line is left out
    groups = tables(pages[0])[0]
    assert groups[0][:4] == ["Nhóm", "Số khách mời", "Đã gửi", "Bị trả lại"]
    assert groups[1] == ["Thành phố", "4", "4", "1", "1", "0", "1", "1"]
    assert groups[-1] == ["Tổng cộng", "5", "5", "1", "1", "1", "1", "1"]
    assert not re.match(r"\d", flat(pages[0]))
    assert [flat(page).split()[0] for page in pages[1:]] == ["2", "3"]
    fonts = subprocess.run(["pdffonts", str(target)], capture_output=True, text=True, check=True).stdout
    assert all(row.split()[-5] == "yes" for row in fonts.splitlines()[2:]), fonts


def test_lists_say_who_comes_who_to_call_and_why_an_invitation_did_not_arrive(answered, tmp_path):
    pages = report(answered, tmp_path / "bao-cao.pdf")
    awaiting, not_reached = [table for page in pages[:-1] for table in tables(page) if table[0][0] == "STT"]
    assert awaiting[0] == ["STT", "Họ và tên", "Chức vụ, đơn vị", "Điện thoại", "Số lần nhắc", "Ghi chú"]
    assert [row[1] for row in awaiting[1:]] == ["Đinh Tấn Dũng"]
    assert awaiting[1][3].replace(" ", "") == "dung.dt@mttq-tphcm.example"  # no phone: the address instead
    assert awaiting[1][5] == "chỉ có thư trả lời tự động"
    assert [row[:2] for row in not_reached[1:]] == [["3", "Võ Hữu Nghĩa"]]
    assert not_reached[1][4].startswith("hộp thư không tồn tại: có thể địa chỉ bị viết sai hoặc không còn dùng (5.1.1")
    sheet = flat(pages[2])
    assert sheet.startswith("3 DANH SÁCH ĐẠI BIỂU Hội nghị sơ kết")
    (sign_in,) = tables(pages[2])
    assert sign_in[0] == SIGN_IN_HEADER
    assert [row[:2] for row in sign_in[1:]] == [
        ["Thành phố", ""],
        ["1", "Hoàng Tấn Phúc"],
        ["Thường trực Quận ủy", ""],
        ["2", "Lê Thị Hồng Vân dự thay Đồng chí Châu Hoàng Việt"],
    ]
    assert all(row[3] == "" for row in sign_in[1:])  # room to sign


def test_the_report_comes_from_the_ledger_alone_and_can_be_in_english(answered, tmp_path):
    before = [flat(page) for page in report(answered, tmp_path / "before.pdf")]
    (answered / "recipients.csv").unlink()
    after = [flat(page) for page in report(answered, tmp_path / "after.pdf")]
    as_of = re.compile(r"Số liệu tính đến \d\d:\d\d ngày [\d/]+")
    assert [as_of.sub("", text) for text in after] == [as_of.sub("", text) for text in before]
    pages = report(answered, tmp_path / "report.pdf", "--lang", "en")
    english = [flat(page) for page in pages]
    assert "REPORT on the invitations sent and the answers received" in english[0]
    assert " Invited 5 " in english[0] and " Expected at the event 2 " in english[0]
    assert "the mailbox does not exist" in english[1]
    assert "LIST OF DELEGATES" in english[2]
    assert tables(pages[2])[0][-1][1] == "Lê Thị Hồng Vân in place of Đồng chí Châu Hoàng Việt"


def test_our_own_report_is_replaced_but_an_edited_one_needs_force(answered, tmp_path):
    target = tmp_path / "bao-cao.pdf"
    report(answered, target)
    report(answered, target)  # ours and unchanged: replaced
    target.write_bytes(target.read_bytes() + b"%% edited\n")
    refused = run("report", "-o", target, "--campaign", answered)
    assert refused.exit_code == 1 and "is not a file mailmerge wrote (or it was changed since)" in refused.output
    assert target.read_bytes().endswith(b"%% edited\n")
    assert run("report", "-o", target, "--force", "--campaign", answered).exit_code == 0
    assert not target.read_bytes().endswith(b"%% edited\n")
    wrong = run("report", "-o", tmp_path / "bao-cao.docx", "--campaign", answered)
    assert wrong.exit_code == 1 and "the report is a PDF" in wrong.output


@pytest.fixture
def many_attending(campaign_dir: Path, smtp, tmp_path: Path) -> Path:
    """The seed's 65 invitees, sent text-only; 50 attend, #51 sends a delegate, #52 declines, #60's
    invitation bounced (a mailbox full, read back from a Postfix DSN), #61 replied unclearly."""
    handler, server = smtp
    set_table(campaign_dir, "smtp", {"host": "127.0.0.1", "port": server.port, "security": "none", "timeout": 2})
    toml = campaign_dir / "campaign.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[campaign]\n", "[campaign]\nattach_pdf = false\n", 1))
    sent = run("send", "--yes", "--campaign", campaign_dir)
    assert sent.exit_code == 0, sent.output
    for number in range(1, 51):
        assert run("mark", str(number), "--attending", "--campaign", campaign_dir).exit_code == 0
    assert run("mark", "51", "--delegate", "Trần Văn Bảy", "--campaign", campaign_dir).exit_code == 0
    assert run("mark", "52", "--declined", "--campaign", campaign_dir).exit_code == 0
    received = {message.envelope_to[0]: message.data for message in handler.received}
    addresses = {row["id"]: row["email"] for row in status(campaign_dir)["recipients"]}
    back = {
        "60.eml": mail.postfix_bounce(received[addresses["60"]], addresses["60"], status="5.2.2"),
        "61.eml": mail.reply(received[addresses["61"]], "Đã nhận được giấy mời."),
    }
    assert run("replies", "import", write(tmp_path / "back", back), "--campaign", campaign_dir).exit_code == 0
    return campaign_dir


def test_the_sign_in_sheet_runs_over_pages_in_protocol_order_with_its_header_on_each(many_attending, tmp_path):
    pages = report(many_attending, tmp_path / "bao-cao.pdf")
    start = next(i for i, page in enumerate(pages) if "DANH SÁCH ĐẠI BIỂU" in flat(page))
    sheet = pages[start:]
    assert len(sheet) >= 3
    numbered = []
    for page in sheet:
        (table,) = tables(page)
        assert table[0] == SIGN_IN_HEADER
        numbered += [row for row in table[1:] if row[0].isdigit()]
    assert [int(row[0]) for row in numbered] == list(range(1, 52))
    coming = [row for row in status(many_attending)["recipients"] if int(row["id"]) <= 51]
    assert [row[1] for row in numbered[:50]] == [row["name"] for row in coming[:50]]
    assert numbered[50][1].startswith("Trần Văn Bảy dự thay")
    assert [flat(page).split()[0] for page in pages[1:]] == [str(n) for n in range(2, len(pages) + 1)]


def test_report_export_and_status_agree_to_the_last_number(many_attending, tmp_path):
    """Per group: invited, sent, bounced, attending, delegate, declined, no answer yet; as `status --json`
    says them, as the report prints them, and as the XLSX's totals sheet counts them."""
    expected: dict[str, list[int]] = {}
    for row in status(many_attending)["recipients"]:
        counts = expected.setdefault(row["group"], [0] * 7)
        answer, went_out = row["answer"], row["state"] in ("sent", "unknown") and row["delivery"] != "bounced"
        coming = [answer == "attending", answer == "delegate", answer == "declined"]
        awaiting = went_out and answer not in ("attending", "delegate", "declined")
        for index, value in enumerate([1, row["state"] == "sent", row["delivery"] == "bounced", *coming, awaiting]):
            counts[index] += value
    assert sum(counts[6] for counts in expected.values()) == 12  # #53-#59, #61-#65: #61 was unclear
    pages = report(many_attending, tmp_path / "bao-cao.pdf")
    groups = tables(pages[0])[0]
    printed = {row[0]: [int(cell) for cell in row[1:]] for row in groups[1:-1]}
    assert printed == expected
    assert groups[-1][1:] == [str(sum(column)) for column in zip(*expected.values(), strict=True)]
    first = flat(pages[0])
    assert " trong đó bị trả lại 1 " in first and " Trả lời chưa rõ ý 1 " in first and " Dự kiến có mặt 51 " in first
    awaiting = [row for page in pages[1:] for table in tables(page) for row in table[1:] if row[0] in ("53", "61")]
    assert len(awaiting) == 2 and awaiting[1][5].startswith("chưa rõ ý")
    reached = [row for page in pages[1:] for table in tables(page) for row in table[1:] if row[0] == "60"]
    assert reached[0][4].startswith("hộp thư đã đầy (5.2.2")
    target = tmp_path / "tinh-trang.xlsx"
    assert run("export", "-o", target, "--lang", "en", "--campaign", many_attending).exit_code == 0
    header, *rows = [[cell.value for cell in row] for row in openpyxl.load_workbook(target)["Totals"].iter_rows()]
    for row in rows[:-1]:
        by_column = dict(zip(header, row, strict=True))
        counts = expected[row[0]]
        assert [by_column["Recipients"], by_column.get("attending", 0), by_column.get("declined", 0)] == [
            counts[0],
            counts[3],
            counts[5],
        ]
