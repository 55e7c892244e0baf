"""Checking the mail servers without sending anything: what the SMTP server offers that matters for a
campaign (its size limit against the largest email, SMTPUTF8, DSN …), and whether the IMAP folders can be read.

Only EHLO, STARTTLS, AUTH and QUIT go to the SMTP server, and LOGIN, EXAMINE and LOGOUT to the IMAP server.
Nothing here prints or prompts: a report holds what each server offers, and its problems (sending would fail)
and warnings (it works, but worse than it could) as translated sentences that say what to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import InboxError, SendError
from .i18n import _
from .models import Campaign, Recipient, ServerSettings

if TYPE_CHECKING:
    from .sending import Planned


MEASURING_KEY = bytes(32)  # the tokens' length does not depend on the key: no ledger or key file is read


@dataclass(frozen=True)
class Largest:
    """The largest email measured, in bytes as sent, and whose it is."""

    size: int
    recipient: Recipient


@dataclass
class SmtpReport:
    settings: ServerSettings
    reached: bool = False  # connected, with TLS and the login `send` would use
    extensions: dict[str, str] = field(default_factory=dict)  # EHLO keyword (lower case) -> its parameters
    largest: Largest | None = None  # measured only when the server announces a size limit
    unicode_address: str | None = None  # an address beyond ASCII: it needs SMTPUTF8
    verp: bool = False  # `[sender] verp`: bounces are matched without DSN
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def offers(self, keyword: str) -> bool:
        return keyword.lower() in self.extensions

    @property
    def size_limit(self) -> int | None:
        """The SIZE limit in bytes; None when the server announces none (or 0, no limit)."""
        value = self.extensions.get("size", "").strip()
        return int(value) if value.isdigit() and int(value) > 0 else None

    @property
    def auth_mechanisms(self) -> list[str]:
        return self.extensions.get("auth", "").upper().split()


@dataclass
class ImapReport:
    settings: ServerSettings
    folders: Sequence[str]
    reached: bool = False  # connected and logged in
    readable: list[str] = field(default_factory=list)  # the folders EXAMINE opened
    problems: list[str] = field(default_factory=list)


def check_smtp(
    campaign: Campaign,
    planned: Sequence[Planned],
    password: str | None,
    *,
    exact: bool = True,
    on_measured: Callable[[], None] | None = None,
) -> SmtpReport:
    """Connect as `send` does, then weigh what the messages of `planned` need against what the server offers.
    They are measured only when it announces a size limit: all of them when `exact`, else as few as will do."""
    report = probe_smtp(campaign.smtp, password)
    report.verp = campaign.sender.verp
    report.unicode_address = unicode_address(campaign.sender.email, (item.recipient for item in planned))
    if report.reached and (limit := report.size_limit) and planned:
        report.largest = largest_message(campaign, planned, within=None if exact else limit, on_measured=on_measured)
    report.problems += _needs_problems(report)
    report.warnings += _smtp_warnings(report)
    return report


def probe_smtp(settings: ServerSettings, password: str | None) -> SmtpReport:
    """What the server offers once the connection is encrypted and logged in; or why it cannot be used."""
    report = SmtpReport(settings)
    try:
        report.extensions = asyncio.run(_offered(settings, password))
    except SendError as error:
        report.problems.append(str(error))
    else:
        report.reached = True
    return report


async def _offered(settings: ServerSettings, password: str | None) -> dict[str, str]:
    from . import connection

    smtp = await connection.connect(settings, password)
    try:
        return dict(smtp.esmtp_extensions)
    finally:
        await connection.quit_quietly(smtp)


def largest_message(
    campaign: Campaign,
    planned: Sequence[Planned],
    *,
    within: int | None = None,
    on_measured: Callable[[], None] | None = None,
) -> Largest:
    """The largest composed email of `planned`. With `within` (a server's limit), the first alone when it
    is under half of that: the emails of a campaign differ by the recipients' own words, never twofold."""
    from .merge import Composer

    composer = Composer(campaign, key=MEASURING_KEY)
    largest: Largest | None = None
    for item in planned:
        _letter, message = composer.build(item.recipient, kind=item.kind, thread=item.thread)
        size = len(message)  # as sent: 7-bit, or UTF-8 where an address beyond ASCII needs it (SMTPUTF8)
        if largest is None or size > largest.size:
            largest = Largest(size, item.recipient)
        if on_measured:
            on_measured()
        if within is not None and 2 * largest.size <= within:
            break
    assert largest is not None, "nothing planned"
    return largest


def unicode_address(sender: str, recipients: Iterable[Recipient]) -> str | None:
    """The first address (the sender's, a recipient's or a CC) with characters beyond ASCII."""
    addresses = [sender, *(address for r in recipients for address in (r.email, *r.cc))]
    return next((address for address in addresses if not address.isascii()), None)


def _needs_problems(report: SmtpReport) -> list[str]:
    """What the campaign's emails need and the server does not offer."""
    if not report.reached:
        return []
    server = _where(report.settings)
    problems = []
    limit, largest = report.size_limit, report.largest
    if limit and largest and largest.size > limit:
        # TRANSLATORS: {size} and {limit} are sizes such as "35.2 KB" or "12.5 MB"; {id} and {name} are the
        # recipient's ID and name; {server} is host:port. templates/ is a folder name: keep it.
        message = _(
            "the largest email is {size} (ID {id}, {name}), but {server} accepts at most {limit}: make the letter "
            "smaller (smaller pictures in templates/, such as a scanned signature or logo), or ask the "
            "administrator of the server to raise the limit"
        )
        problems.append(
            message.format(
                size=size_text(largest.size),
                limit=size_text(limit),
                id=largest.recipient.id,
                name=largest.recipient.name,
                server=server,
            )
        )
    if report.unicode_address and not report.offers("smtputf8"):
        # TRANSLATORS: {address} is an email address, {server} host:port. SMTPUTF8 is the name of an SMTP extension.
        message = _(
            "the address {address} has characters beyond ASCII, which {server} cannot carry: it does not offer "
            "SMTPUTF8; use an address without them, or a server that offers SMTPUTF8"
        )
        problems.append(message.format(address=report.unicode_address, server=server))
    return problems


def _smtp_warnings(report: SmtpReport) -> list[str]:
    """What works, but worse than it could: no encryption, an unverified certificate, no DSN."""
    settings = report.settings
    server = _where(settings)
    warnings = []
    if settings.security == "none" and report.offers("starttls"):
        # TRANSLATORS: {server} is host:port. security = "none", security = "starttls" and [smtp] are settings of
        # campaign.toml: keep them as they are.
        message = _(
            '{server} offers STARTTLS, but security = "none" sends the invitations unencrypted: set '
            'security = "starttls" in [smtp]'
        )
        warnings.append(message.format(server=server))
    if settings.security != "none" and not settings.verify_certificate:
        # TRANSLATORS: {server} is host:port. verify_certificate = false, ca_file and [smtp] are settings of
        # campaign.toml: keep them as they are.
        message = _(
            "the certificate of {server} is not verified (verify_certificate = false), so another machine could "
            "pose as the server and read the password: remove that line from [smtp], and set ca_file if the "
            "server uses an internal CA"
        )
        warnings.append(message.format(server=server))
    if report.reached and not report.offers("dsn") and not report.verp:
        # TRANSLATORS: {server} is host:port. DSN is the name of an SMTP extension; verp = true and [sender] are a
        # setting of campaign.toml: keep them as they are.
        message = _(
            "{server} does not offer DSN, so a bounce may not say which invitation it is about: set verp = true "
            "in [sender] so that bounces can still be matched"
        )
        warnings.append(message.format(server=server))
    return warnings


def probe_imap(settings: ServerSettings, password: str | None, folders: Sequence[str]) -> ImapReport:
    """Log in as `mailmerge replies fetch` does and open each folder read-only; or why that fails."""
    from . import inbox

    report = ImapReport(settings, folders)
    try:
        missing = inbox.missing_folders(settings, password, folders)
    except InboxError as error:
        report.problems.append(str(error))
        return report
    report.reached = True
    report.readable = [folder for folder in folders if folder not in missing]
    report.problems += missing.values()
    return report


def _where(settings: ServerSettings) -> str:
    return f"{settings.host}:{settings.port}"  # as `connection.where`, without importing aiosmtplib


def size_text(size: int) -> str:
    """A size as people read it: "35.2 KB", "12.5 MB"."""
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
