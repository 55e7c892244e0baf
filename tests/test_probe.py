"""`mailmerge check --servers` (and `doctor`) against real servers: aiosmtpd with its size limit, TLS and AUTH,
a closed port, and a real Dovecot; and `send`, which runs the same check before it asks to go ahead."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailmerge.cli.commands import app
from mailmerge.sink import LocalServer

from .campaign_files import keep_first_rows, set_table
from .followup_fixtures import read_from
from .smtp_server import ScriptedHandler
from .test_smtp_security import PASSWORD, USER, ca, ca_file, point_at, secure_server  # noqa: F401  (fixtures)

runner = CliRunner()


def run(*args: object, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def states(folder: Path) -> dict[str, int]:
    """How many recipients are in each state (`new`: not in the ledger)."""
    result = run("status", "--json", "--campaign", folder)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["totals"]["by_state"]


def plain(folder: Path, port: int) -> Path:
    """Two recipients, sent through 127.0.0.1:`port` without TLS or login."""
    keep_first_rows(folder, 2)
    set_table(folder, "smtp", {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5})
    return folder


@pytest.fixture
def small_server():
    """An aiosmtpd server that takes emails up to 20,000 bytes (SIZE 20000): less than the seed letter."""
    handler = ScriptedHandler()
    server = LocalServer(handler, data_size_limit=20_000)
    server.start()
    yield handler, server
    server.stop()


def test_check_servers_says_what_the_server_offers(send_dir, smtp):
    handler, server = smtp
    result = run("check", "--servers", "--campaign", send_dir)
    assert result.exit_code == 0, result.output
    assert f"SMTP server 127.0.0.1:{server.port} (none): connected, without a login" in result.output
    assert "SIZE: at most 32.0 MB per email; the largest email of this campaign is 3" in result.output
    assert "8BITMIME: offered." in result.output and "SMTPUTF8: offered." in result.output
    assert "PIPELINING: not offered." in result.output
    assert f"127.0.0.1:{server.port} does not offer DSN" in result.output and "set verp = true" in result.output
    assert "campaign.toml has no [imap] table" in result.output
    assert "No problems found. Nothing was sent." in result.output
    assert handler.connections == 1 and not handler.received


def test_an_email_over_the_size_limit_stops_check_doctor_and_send(campaign_dir, small_server):
    handler, server = small_server
    folder = plain(campaign_dir, server.port)
    for command in (["check", "--servers"], ["doctor"]):
        result = run(*command, "--campaign", folder)
        assert result.exit_code == 1, result.output
        assert "the largest email is 3" in result.output and "KB (ID " in result.output
        assert f"127.0.0.1:{server.port} accepts at most 19.5 KB: make the letter smaller" in result.output
        assert f"run `mailmerge {' '.join(command)}` again" in result.output
        assert "Traceback" not in result.output
    sent = run("send", "--yes", "--campaign", folder)
    assert sent.exit_code == 1, sent.output
    assert "accepts at most 19.5 KB" in sent.output and "Nothing was sent." in sent.output
    assert not handler.received and states(folder) == {"new": 2}


def test_send_asks_nothing_when_the_server_cannot_take_the_emails(campaign_dir, small_server):
    _handler, server = small_server
    result = run("send", "--campaign", plain(campaign_dir, server.port), input="y\n")
    assert result.exit_code == 1
    assert "Send 2 invitations" not in result.output


def test_a_closed_port_is_a_clear_problem(send_dir):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    set_table(send_dir, "smtp", {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 2})
    for command in (["check", "--servers"], ["send", "--yes"]):
        result = run(*command, "--campaign", send_dir)
        assert result.exit_code == 1, result.output
        assert f"127.0.0.1:{port} refused the connection: no mail server answers on that port" in result.output
        assert "check host, port and security in [smtp]" in result.output
        assert "Traceback" not in result.output
    assert states(send_dir) == {"new": 5}


def test_starttls_not_offered_is_a_clear_problem(send_dir, smtp):
    _handler, server = smtp
    set_table(send_dir, "smtp", {"host": "127.0.0.1", "port": server.port, "security": "starttls", "timeout": 2})
    result = run("check", "--servers", "--campaign", send_dir)
    assert result.exit_code == 1
    assert f"127.0.0.1:{server.port} does not offer STARTTLS, so the connection cannot be encrypted" in result.output


def test_tls_and_login_with_the_right_password(secure_server, campaign_dir, ca_file, monkeypatch):  # noqa: F811
    handler, server, security = secure_server
    monkeypatch.setenv("MAILMERGE_SMTP_PASSWORD", PASSWORD)
    result = run("check", "--servers", "--campaign", point_at(campaign_dir, server.port, security, ca_file=ca_file))
    assert result.exit_code == 0, result.output
    assert f"SMTP server 127.0.0.1:{server.port} ({security}): connected and logged in as {USER}." in result.output
    assert f"The connection is encrypted ({security}) and the certificate was verified." in result.output
    assert "AUTH: LOGIN PLAIN." in result.output, result.output
    assert PASSWORD not in result.output and not handler.received


def test_a_wrong_password_is_a_problem(secure_server, campaign_dir, ca_file, monkeypatch):  # noqa: F811
    _handler, server, security = secure_server
    monkeypatch.setenv("MAILMERGE_SMTP_PASSWORD", "wrong")
    result = run("doctor", "--campaign", point_at(campaign_dir, server.port, security, ca_file=ca_file))
    assert result.exit_code == 1
    assert f"127.0.0.1:{server.port} refused the login for {USER}: 535" in result.output
    assert "check username in [smtp] and the password" in result.output
    assert "Traceback" not in result.output


def test_the_password_is_asked_before_the_check_and_an_untrusted_certificate_is_a_problem(
    secure_server,  # noqa: F811
    campaign_dir,
    monkeypatch,
):
    _handler, server, security = secure_server
    monkeypatch.delenv("MAILMERGE_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    result = run("check", "--servers", "--campaign", point_at(campaign_dir, server.port, security), input="x\n")
    assert result.exit_code == 1
    assert result.output.index("SMTP password for") < result.output.index("recipients")
    assert f"the TLS certificate of 127.0.0.1:{server.port} could not be verified" in result.output
    assert "set ca_file in [smtp]" in result.output


def test_the_mailbox_and_its_folders(send_dir, smtp, dovecot, monkeypatch):
    read_from(dovecot, send_dir, monkeypatch)
    result = run("check", "--servers", "--campaign", send_dir)
    assert result.exit_code == 0, result.output
    assert f"IMAP server 127.0.0.1:{dovecot.port} (starttls): connected and logged in as vanphong." in result.output
    assert "The folder INBOX exists and can be read." in result.output

    dovecot.create_folder("Lưu trữ")
    with_folders(send_dir, ["INBOX", "Thư trả lời"])
    missing = run("doctor", "--campaign", send_dir)
    assert missing.exit_code == 1
    assert "The folder INBOX exists and can be read." in missing.output
    assert "the folder Thư trả lời cannot be opened" in missing.output
    assert "the folders there are: " in missing.output and "Lưu trữ" in missing.output
    assert "Check folders in [imap]" in missing.output

    sent = run("send", "--yes", "--campaign", send_dir)  # sending does not need the mailbox: only a warning
    assert sent.exit_code == 0, sent.output
    assert "Warning: the folder Thư trả lời cannot be opened" in sent.output
    assert "Sending does not need the mailbox" in sent.output
    assert states(send_dir) == {"sent": 5}


def test_a_wrong_mailbox_password_is_a_problem(send_dir, smtp, dovecot, monkeypatch):
    read_from(dovecot, send_dir, monkeypatch)
    monkeypatch.setenv("MAILMERGE_IMAP_PASSWORD", "wrong")
    result = run("check", "--servers", "--campaign", send_dir)
    assert result.exit_code == 1
    assert f"IMAP server 127.0.0.1:{dovecot.port} (starttls): cannot be used." in result.output
    assert f"127.0.0.1:{dovecot.port} refused the login for vanphong" in result.output
    assert "Traceback" not in result.output


def with_folders(folder: Path, folders: list[str]) -> None:
    """Give [imap] a `folders` list (set_table writes single values only)."""
    path = folder / "campaign.toml"
    listed = ", ".join(json.dumps(name, ensure_ascii=False) for name in folders)
    path.write_text(path.read_text(encoding="utf-8").replace("[imap]\n", f"[imap]\nfolders = [{listed}]\n"), "utf-8")
