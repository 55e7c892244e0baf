"""What the tests of replies and reminders share: the five invitations really sent, the mail that comes
back for them, and running the CLI as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailmerge.cli.commands import app

from . import mail_factory as mail
from .campaign_files import set_table

runner = CliRunner()


def run(*args: object, input: str | None = None):
    """`mailmerge args`, with `input` typed at its prompts."""
    return runner.invoke(app, [str(a) for a in args], input=input)


def status(folder: Path) -> dict:
    result = run("status", "--json", "--campaign", folder)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def sent(send_dir, smtp) -> dict[str, bytes]:
    """The five invitations as the server received them, by recipient ID."""
    handler, _ = smtp
    assert run("send", "--yes", "--campaign", send_dir).exit_code == 0
    by_address = {received.envelope_to[0]: received.data for received in handler.received}
    rows = status(send_dir)["recipients"]
    return {row["id"]: by_address[row["email"]] for row in rows}


@pytest.fixture
def mailbox(sent) -> dict[str, bytes]:
    """What comes back, by file name."""
    return {
        "1-reply.eml": mail.reply(sent["1"], "Xin xác nhận tham dự.\nTrân trọng,\nHoàng Tấn Phúc"),
        "2-reply-without-thread.eml": mail.reply(
            sent["2"], "Tôi không thể tham dự được vì trùng lịch công tác.", thread=False
        ),
        "3-bounce.eml": mail.postfix_bounce(sent["3"], mail.invitation(sent["3"])["To"].addresses[0].addr_spec),
        "4-out-of-office.eml": mail.out_of_office(sent["4"]),
        "forged.eml": mail.forged(sent["5"]),
        "spam.eml": mail.spam(),
    }


def write(folder: Path, messages: dict[str, bytes]) -> Path:
    folder.mkdir()
    for name, raw in messages.items():
        (folder / name).write_bytes(raw)
    return folder


def by_id(report: dict) -> dict[str, dict]:
    return {row["id"]: row for row in report["recipients"]}


def read_from(dovecot, send_dir: Path, monkeypatch) -> None:
    """Point the campaign's [imap] at the test's Dovecot, with its password in the environment."""
    imap = dovecot.settings("starttls")
    values = {"host": imap.host, "port": imap.port, "security": "starttls", "username": imap.username}
    set_table(send_dir, "imap", values | {"ca_file": str(imap.ca_file)})
    monkeypatch.setenv("MAILMERGE_IMAP_PASSWORD", dovecot.password)
