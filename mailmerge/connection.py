"""Opening an SMTP connection: TLS, login, and where the password comes from.

Nothing here prints or prompts: a problem is a `SendError` saying what is wrong and what to do.
"""

from __future__ import annotations

import os
import socket
import ssl
from typing import TYPE_CHECKING

from .errors import SendError
from .i18n import _
from .models import ServerSettings

if TYPE_CHECKING:  # imported where a connection is opened: commands that send nothing start without it
    import aiosmtplib

KEYRING_SERVICE = "mailmerge-smtp"
PASSWORD_ENV = "MAILMERGE_SMTP_PASSWORD"


def tls_context(settings: ServerSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    if not settings.verify_certificate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def where(settings: ServerSettings) -> str:
    return f"{settings.host}:{settings.port}"


def ehlo_name(settings: ServerSettings) -> str:
    """The name given at EHLO: `[smtp] helo_name`, else the computer's fully qualified name, else the
    sender's domain. Never a bare host name ("vm"): many relays refuse one, and spam filters score it."""
    if settings.helo_name:
        return settings.helo_name
    fqdn = socket.getfqdn().lower().rstrip(".")
    if "." in fqdn and not fqdn.startswith("localhost") and not fqdn.endswith((".localdomain", ".local")):
        return fqdn
    name = settings.sender_domain or fqdn
    return name if name.isascii() else name.encode("idna").decode("ascii")  # EHLO takes ASCII only


async def connect(settings: ServerSettings, password: str | None) -> aiosmtplib.SMTP:
    """An open, authenticated connection, or a `SendError` saying what is wrong and what to do."""
    import aiosmtplib

    if settings.username and settings.security == "none" and not settings.allow_plaintext_auth:
        # TRANSLATORS: {username} is the SMTP login, {server} is host:port. security = "starttls", "tls",
        # allow_plaintext_auth = true and [smtp] are settings of campaign.toml: keep them as they are.
        message = _(
            "refusing to send the password for {username} unencrypted to {server}: "
            'use security = "starttls" or "tls", or set allow_plaintext_auth = true in [smtp]'
        )
        raise SendError(message.format(username=settings.username, server=where(settings)))
    smtp = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        use_tls=settings.security == "tls",
        start_tls=settings.security == "starttls",
        tls_context=tls_context(settings) if settings.security != "none" else None,
        timeout=settings.timeout,
        local_hostname=ehlo_name(settings),
    )
    try:
        await smtp.connect()
        if smtp.last_ehlo_response is None:  # what the server offers (DSN …) must be known before MAIL FROM
            await smtp.ehlo()
        if settings.username:
            if password is None:
                # TRANSLATORS: {username} is the SMTP login, {server} is host:port.
                message = _("no password for {username} at {server}")
                raise SendError(message.format(username=settings.username, server=where(settings)))
            await smtp.login(settings.username, password)
    except (aiosmtplib.SMTPException, OSError) as error:
        smtp.close()
        raise connect_error(settings, error) from None
    except BaseException:  # no password, or Ctrl-C while connecting
        smtp.close()
        raise
    return smtp


def connect_error(settings: ServerSettings, error: aiosmtplib.SMTPException | OSError) -> SendError:
    import aiosmtplib

    if (cert_error := certificate_error(error)) is not None:
        # TRANSLATORS: {server} is host:port; {reason} is OpenSSL's reason, in English (e.g. "self-signed
        # certificate"). ca_file and [smtp] are settings of campaign.toml: keep them as they are.
        message = _(
            "the TLS certificate of {server} could not be verified ({reason}); "
            "if the server uses an internal CA, set ca_file in [smtp]"
        )
        return SendError(message.format(server=where(settings), reason=cert_error.verify_message))
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        # TRANSLATORS: {server} is host:port, {username} the SMTP login; {code} {reply} is the server's answer,
        # as the server wrote it (e.g. "535 5.7.8 Authentication credentials invalid"). username, [smtp] and
        # MAILMERGE_SMTP_PASSWORD (an environment variable) stay as they are.
        message = _(
            "{server} refused the login for {username}: {code} {reply}; check username in [smtp] and the password "
            "(MAILMERGE_SMTP_PASSWORD, the keyring or the prompt)"
        )
        return SendError(
            message.format(server=where(settings), username=settings.username, code=error.code, reply=error.message)
        )
    if settings.security == "starttls" and type(error) is aiosmtplib.SMTPException and "STARTTLS" in error.message:
        # TRANSLATORS: {server} is host:port. security = "tls" and [smtp] are settings of campaign.toml: keep them.
        message = _(
            "{server} does not offer STARTTLS, so the connection cannot be encrypted: ask the administrator of the "
            'server, or use security = "tls" with its TLS port (usually 465) in [smtp]'
        )
        return SendError(message.format(server=where(settings)))
    if caused_by(error, ConnectionRefusedError):
        # TRANSLATORS: {server} is host:port. host, port, security and [smtp] are settings of campaign.toml.
        message = _(
            "{server} refused the connection: no mail server answers on that port; check host, port and "
            'security in [smtp] (usually port 587 with security = "starttls", or 465 with "tls")'
        )
        return SendError(message.format(server=where(settings)))
    if caused_by(error, aiosmtplib.SMTPTimeoutError, TimeoutError):
        # TRANSLATORS: {server} is host:port, {seconds} the timeout of [smtp]. host and port are its settings.
        message = _(
            "{server} did not answer within {seconds} seconds: check host and port in [smtp], and that no "
            "firewall blocks the way from this computer to the server"
        )
        return SendError(message.format(server=where(settings), seconds=f"{settings.timeout:g}"))
    # TRANSLATORS: {server} is host:port; {reason} is the system's or the SMTP library's error, in English.
    # host, port, security and [smtp] are settings of campaign.toml: keep them as they are.
    message = _("cannot connect to {server}: {reason}; check host, port and security in [smtp]")
    return SendError(message.format(server=where(settings), reason=error))


def caused_by(error: BaseException | None, *kinds: type[BaseException]) -> bool:
    """Is `error`, or anything that caused it, one of `kinds`?"""
    while error is not None:
        if isinstance(error, kinds):
            return True
        error = error.__cause__ or error.__context__
    return False


def certificate_error(error: BaseException | None) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind an error, however deep aiosmtplib wrapped it."""
    while error is not None:
        if isinstance(error, ssl.SSLCertVerificationError):
            return error
        error = error.__cause__ or error.__context__
    return None


async def quit_quietly(smtp: aiosmtplib.SMTP) -> None:
    import aiosmtplib

    if smtp.is_connected:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()


def stored_password(settings: ServerSettings, env: str = PASSWORD_ENV, service: str = KEYRING_SERVICE) -> str | None:
    """The password from the environment or the system keyring (service `mailmerge-smtp`, user
    `username@host`); None if neither has it. Never from the campaign file, the ledger or argv."""
    if not settings.username:
        return None
    if password := os.environ.get(env):
        return password
    try:
        import keyring
        from keyring.errors import KeyringError

        return keyring.get_password(service, f"{settings.username}@{settings.host}")
    except (KeyringError, RuntimeError):
        return None
