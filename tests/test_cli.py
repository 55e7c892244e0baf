"""The commands as a user runs them: exit codes, messages, files written."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import typer
from rich.cells import cell_len
from typer.testing import CliRunner

from mailmerge import __version__, checking
from mailmerge.cli.commands import app

from .conftest import keep_first_rows, set_table

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_check_on_the_seed_campaign_reports_65_recipients_and_no_problems(campaign_dir):
    result = run("check", "--campaign", campaign_dir)
    assert result.exit_code == 0, result.output
    assert "65 recipients" in result.output
    assert "Letters rendered: 65 PDFs" in result.output
    assert "Fonts embedded: Tinos" in result.output or "Liberation" in result.output
    assert "No problems found" in result.output
    assert "Thành phố" in result.output and "Cán bộ môi trường phường" in result.output


def test_preview_writes_an_eml_and_a_pdf_for_everyone(campaign_dir, tmp_path):
    out = tmp_path / "out"
    result = run("preview", "--campaign", campaign_dir, "--out", out)
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*.pdf"))) == 65
    assert len(list(out.glob("*.eml"))) == 65
    assert (out / "001_Giay-moi_58-GM-MTTQ-BTT_Hoang-Tan-Phuc.eml").is_file()


def test_preview_of_one_recipient_by_id_or_email_with_png(campaign_dir, tmp_path):
    out = tmp_path / "out"
    result = run(
        "preview", "--campaign", campaign_dir, "--to", "3", "--to", "PHUC.HT@mttq-tphcm.example", "--out", out, "--png"
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.suffix for p in out.iterdir()) == [".eml", ".eml", ".pdf", ".pdf", ".png", ".png"]
    assert (out / "003_Giay-moi_58-GM-MTTQ-BTT_Vo-Huu-Nghia.png").read_bytes().startswith(b"\x89PNG")


def test_preview_of_an_unknown_recipient_fails_cleanly(campaign_dir, tmp_path):
    result = run("preview", "--campaign", campaign_dir, "--to", "999", "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "no recipient with ID or email 999" in result.output
    assert not (tmp_path / "out").exists()


BROKEN_ROWS = [
    "1,Thành phố,UBMTTQ TP,Phó Chủ tịch,Đồng chí,Nguyễn Văn An,an@mttq.example,,",
    "2,Thành phố,UBMTTQ TP,Ủy viên,Đồng chí,,binh@mttq.example,,",
    "3,Quận,Quận ủy,Bí thư,Đồng chí,Trần Bình,not-an-email,,",
    "4,Quận,Quận ủy,Bí thư,Đồng chí,Lê Cường,AN@mttq.example,,",
    '5,Quận,Quận ủy,Bí thư,Đồng chí,"Phạm\r\nBcc: x@evil.test",pham@mttq.example,,',
    "6,Phường,UBND P1,Cán bộ,Ông,Nguy?n V?n D?ng,dung@mttq.example,,",
    "7,Phường,UBND P2,Cán bộ,Bà,Hồ Thị E,e@mttq.example,,,extra",
]


def test_a_broken_recipients_file_lists_every_problem_and_sends_nothing(campaign_dir, tmp_path):
    header = "order,group,organisation,position,salutation,name,email,cc,phone"
    (campaign_dir / "recipients.csv").write_bytes(("\r\n".join([header, *BROKEN_ROWS]) + "\r\n").encode())
    out = tmp_path / "out"
    for command in (["check"], ["preview", "--out", out]):
        result = run(*command, "--campaign", campaign_dir)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert "6 problems" in result.output
        for expected in (
            "recipients.csv:3 [name]: is empty",
            "recipients.csv:4 [email]: “not-an-email”",
            "recipients.csv:5 [email]: “an@mttq.example” is a duplicate of row 2",
            "recipients.csv:6 [name]: contains a line break",
            "recipients.csv:7 [name]: “Nguy?n",
            "recipients.csv:8: has 10 fields",
        ):
            assert expected in result.output
    assert not out.exists()


def test_a_missing_campaign_file_says_what_to_do(tmp_path):
    result = run("check", "--campaign", tmp_path)
    assert result.exit_code == 1
    assert "no campaign.toml" in result.output and "mailmerge init" in result.output


def test_a_bad_campaign_file_lists_its_problems(campaign_dir):
    toml = campaign_dir / "campaign.toml"
    text = toml.read_text(encoding="utf-8").replace('security = "starttls"', 'security = "ssl"')
    toml.write_text(text.replace('slug = "so-ket-200-ngay-gd2"', 'slug = "Sơ kết"'), encoding="utf-8")
    result = run("check", "--campaign", campaign_dir)
    assert result.exit_code == 1
    line = next(n for n, text in enumerate(toml.read_text(encoding="utf-8").splitlines(), 1) if "ssl" in text)
    assert f"campaign.toml:{line} [smtp.security]: must be one of starttls, tls or none" in result.output
    assert "[campaign.slug]" in result.output


def test_init_scaffolds_a_campaign_and_never_overwrites(tmp_path):
    folder = tmp_path / "new"
    result = run("init", folder)
    assert result.exit_code == 0, result.output
    for name in (
        "campaign.toml",
        "recipients.csv",
        "templates/letter.html",
        "templates/letter.css",
        "templates/subject.txt",
        "templates/email.txt",
        "templates/email.html",
    ):
        assert (folder / name).is_file(), name
    (folder / "recipients.csv").write_text("my own list", encoding="utf-8")
    (folder / "templates" / "email.txt").unlink()
    result = run("init", folder)
    assert result.exit_code == 0
    assert (folder / "recipients.csv").read_text(encoding="utf-8") == "my own list"
    created = [line for line in result.output.splitlines() if line.startswith("created")]
    assert created == [f"created {folder / 'templates' / 'email.txt'}"]


def test_an_initialised_campaign_checks_clean(tmp_path):
    folder = tmp_path / "new"
    assert run("init", folder).exit_code == 0
    keep_first_rows(folder, 3)
    result = run("check", "--campaign", folder)
    assert result.exit_code == 0, result.output
    assert "3 recipients" in result.output


def test_every_command_has_help_text():
    for command in typer.main.get_command(app).commands.values():
        assert command.help, f"{command.name} has no help"


@pytest.mark.parametrize("entry", [["cli.py"], ["-m", "mailmerge"]])
def test_runs_from_a_checkout(entry):
    result = subprocess.run(
        [sys.executable, *entry, "--help"], capture_output=True, text=True, cwd=Path(__file__).parent.parent
    )
    assert result.returncode == 0, result.stderr
    assert "preview" in result.stdout


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2020, 8, 21), None),  # Friday: Mon, Tue, Wed, Thu are working days before the Friday event
        (date(2020, 8, 25), "less than 3 working days before the event (28/08/2020)"),  # only Wed and Thu left
        (date(2020, 9, 1), "the event (28/08/2020) is in the past"),
    ],
)
def test_check_warns_when_invitations_would_arrive_too_late(campaign_dir, today, expected):
    keep_first_rows(campaign_dir, 1)
    warnings = checking.check(campaign_dir, today=today).warnings
    assert len(warnings) == (1 if expected else 0)
    assert all(warning.startswith(expected) for warning in warnings)


def test_a_misspelt_setting_is_named_with_a_suggestion(campaign_dir):
    set_table(campaign_dir, "smtp", {"host": "127.0.0.1", "port": 587, "securty": "tls"})
    set_table(campaign_dir, "send", {"retries": -1, "retry_delay": "soon", "pause_after": 0})
    result = run("check", "--campaign", campaign_dir)
    assert result.exit_code == 1
    assert "[smtp.securty]: unknown setting; did you mean “security”?" in result.output
    assert "[send.retries]: must be at least 0" in result.output
    assert "[send.retry_delay]: must be a number" in result.output
    assert "[send.pause_after]: must be at least 1" in result.output


def test_status_fits_an_80_column_terminal_and_wide_shows_everything(send_dir, smtp):
    assert run("send", "--campaign", send_dir, "--yes").exit_code == 0
    narrow = runner.invoke(app, ["status", "--campaign", str(send_dir)], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0, narrow.output
    lines = [line.rstrip() for line in narrow.output.splitlines()]
    assert max(cell_len(line) for line in lines) <= 80
    table_lines = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert all(line[-1] in "┓┃┩│┘" for line in table_lines), "a table was cropped, not fitted"
    assert "Dương Thị Thu Thảo" in narrow.output  # names are never cut
    assert "Ủy ban MTTQ Việt Nam Thành phố Hồ Chí Minh" not in narrow.output
    wide = runner.invoke(app, ["status", "--campaign", str(send_dir), "--wide"], env={"COLUMNS": "80"})
    assert wide.exit_code == 0, wide.output
    assert "Ủy ban MTTQ Việt Nam Thành phố Hồ Chí Minh" in wide.output
    assert "250 2.0.0 Ok: queued as 00001" in wide.output


def test_flags_show_no_type_placeholder_in_help():
    commands = ["", *typer.main.get_command(app).commands]
    for command in commands:
        result = runner.invoke(app, [*([command] if command else []), "--help"], env={"COLUMNS": "120"})
        assert result.exit_code == 0
        assert "<bool>" not in result.output and "<list" not in result.output, command


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"mailmerge {__version__}"


def test_check_shows_what_it_cleaned_in_the_recipients_file(campaign_dir):
    path = campaign_dir / "recipients.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    lines[1] = lines[1].replace("phuc.ht@mttq-tphcm.example", "Hoàng Tấn Phúc <phuc.ht@mttq-tphcm.example>;")
    path.write_text("\n".join(["DANH SÁCH KHÁCH MỜI", "", *lines[:3]]) + "\n", encoding="utf-8-sig")
    result = run("check", "--campaign", campaign_dir)
    assert result.exit_code == 0, result.output
    assert "2 recipients" in result.output
    assert "Note: recipients.csv: the header was found on row 3" in result.output
    assert "Note: recipients.csv:4 [email]: “Hoàng Tấn Phúc <phuc.ht@mttq-tphcm.example>;” was cleaned" in result.output
