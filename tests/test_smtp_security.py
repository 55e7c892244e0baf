"""TLS and authentication against a real aiosmtpd server with a trustme certificate."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme
from aiosmtpd.smtp import AuthResult
from typer.testing import CliRunner

from mailmerge.cli.commands import app
from mailmerge.sink import LocalServer

from .conftest import keep_first_rows, set_table
from .smtp_server import ScriptedHandler

runner = CliRunner()
USER, PASSWORD = "vanphong@mttq-quan5.example", "mật-khẩu-thử-4711"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    """The test CA as a PEM file, for `ca_file` in [smtp]."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture(params=["starttls", "tls"])
def secure_server(request, ca):
    """(handler, server, security) for STARTTLS on a plain port and for implicit TLS."""
    handler = ScriptedHandler()
    if request.param == "starttls":
        server = LocalServer(
            handler,
            tls_context=server_context(ca),
            require_starttls=True,
            authenticator=check_login,
            auth_required=True,
        )
    else:
        # aiosmtpd counts only STARTTLS as TLS for AUTH; on an implicit-TLS port every byte is encrypted anyway
        server = LocalServer(
            handler,
            ssl_context=server_context(ca),
            authenticator=check_login,
            auth_required=True,
            auth_require_tls=False,
        )
    server.start()
    yield handler, server, request.param
    server.stop()


def point_at(campaign_dir: Path, port: int, security: str, **extra: object) -> Path:
    keep_first_rows(campaign_dir, 2)
    set_table(
        campaign_dir,
        "smtp",
        {"host": "127.0.0.1", "port": port, "security": security, "username": USER, "timeout": 5, **extra},
    )
    return campaign_dir


def send(folder: Path, **kwargs):
    return runner.invoke(app, ["send", "--yes", "--campaign", str(folder)], **kwargs)


def test_tls_with_a_trusted_certificate_and_a_password_from_the_environment(
    secure_server, campaign_dir, ca_file, monkeypatch
):
    handler, server, security = secure_server
    folder = point_at(campaign_dir, server.port, security, ca_file=str(ca_file))
    monkeypatch.setenv("MAILMERGE_SMTP_PASSWORD", PASSWORD)
    result = send(folder)
    assert result.exit_code == 0, result.output
    assert "Sent 2," in result.output and len(handler.received) == 2
    assert PASSWORD not in result.output
    for stored in folder.glob("ledger.db*"):
        assert PASSWORD.encode() not in stored.read_bytes(), f"{stored.name} holds the password"


def test_the_password_can_be_typed_at_the_prompt(secure_server, campaign_dir, ca_file, monkeypatch):
    handler, server, security = secure_server
    monkeypatch.delenv("MAILMERGE_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    result = send(point_at(campaign_dir, server.port, security, ca_file=str(ca_file)), input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "SMTP password for" in result.output and PASSWORD not in result.output
    assert len(handler.received) == 2


def test_an_untrusted_certificate_is_a_clear_error_and_nothing_is_claimed(secure_server, campaign_dir, monkeypatch):
    handler, server, security = secure_server
    monkeypatch.setenv("MAILMERGE_SMTP_PASSWORD", PASSWORD)
    folder = point_at(campaign_dir, server.port, security)
    result = send(folder)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"the TLS certificate of 127.0.0.1:{server.port} could not be verified" in result.output
    assert "set ca_file in [smtp]" in result.output
    assert not handler.received
    status = runner.invoke(app, ["status", "--json", "--campaign", str(folder)])
    assert '"sending"' not in status.output and '"sent"' not in status.output


def test_a_wrong_password_is_a_clear_error(secure_server, campaign_dir, ca_file, monkeypatch):
    handler, server, security = secure_server
    monkeypatch.setenv("MAILMERGE_SMTP_PASSWORD", "wrong")
    result = send(point_at(campaign_dir, server.port, security, ca_file=str(ca_file)))
    assert result.exit_code == 1
    assert f"127.0.0.1:{server.port} refused the login for {USER}: 535" in result.output
    assert not handler.received


def test_no_password_over_an_unencrypted_connection(campaign_dir, smtp, monkeypatch):
    handler, server = smtp
    monkeypatch.setenv("MAILMERGE_SMTP_PASSWORD", PASSWORD)
    result = send(point_at(campaign_dir, server.port, "none"))
    assert result.exit_code == 1
    assert "refusing to send the password" in result.output and "allow_plaintext_auth" in result.output
    assert handler.connections == 0
