"""One message's SMTP transaction — MAIL FROM, RCPT TO, DATA — and what its outcome means for the
ledger: 250 is `sent`, 4xx `deferred`, 5xx `failed`, and a connection lost during DATA `unknown` (the
server may have the message). Where the server offers DSN, the transaction asks for reports that name
the message and return only its headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .i18n import N_, _
from .ledger import DEFERRED, FAILED, SENT, UNKNOWN

if TYPE_CHECKING:  # imported where a message is sent: commands that send nothing start without it
    import aiosmtplib

    from .ledger import Prepared


@dataclass(frozen=True)
class Invitee:
    """Whom a message is for, as a user names them: the recipient ID, the name and the email."""

    id: str
    name: str
    email: str


@dataclass(frozen=True)
class Outgoing:
    """A rendered message, ready for SMTP: the first envelope recipient is the invitee, the rest CC."""

    prepared: Prepared
    envelope_from: str
    data: bytes
    message_id: str | None = None  # "<…@domain>", as in the message

    @property
    def envid(self) -> str | None:
        """Our token (the Message-ID's left part), asked back in delivery reports where the server offers DSN."""
        return self.message_id.strip("<>").partition("@")[0] if self.message_id else None

    @property
    def envelope_to(self) -> list[str]:
        return self.prepared.envelope_to

    @property
    def invitee(self) -> Invitee:
        merged = self.prepared.merged
        return Invitee(str(merged["id"]), str(merged["name"]), self.envelope_to[0])


@dataclass
class Attempt:
    """A message between its claim and its recorded outcome, and the SMTP command it has reached."""

    out: Outgoing
    stage: str = "MAIL FROM"


@dataclass(frozen=True)
class Outcome:
    """What an attempt became. `detail` goes into the ledger's event as a permanent English record;
    `reason` is the same explanation in the user's language, for what the user is shown (the pause
    message). An outcome with a server reply shows the reply instead: its `detail` stays in the ledger."""

    state: str
    code: int | None = None
    reply: str | None = None
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    detail: str | None = None
    reason: str | None = None

    @property
    def shown(self) -> str:
        """The outcome as the user reads it: the server's reply as it wrote it, or why there was none."""
        if self.code:
            return f"{self.code} {self.reply}"
        return self.reason or self.detail or ""


def by_code(code: int, reply: str, detail: str | None = None) -> Outcome:
    """The server's answer decides; `detail` (English) is for the ledger only, as the user is shown the reply."""
    return Outcome(DEFERRED if 400 <= code < 500 else FAILED, code, reply, detail=detail)


def explained(state: str, detail: str, **values: object) -> Outcome:
    """An outcome with no server reply, explained by `detail`, a message marked with `N_`: filled in in
    English for the ledger's record, and in the user's language as its `reason`."""
    return Outcome(state, detail=detail.format(**values), reason=_(detail).format(**values))


async def transmit(smtp: aiosmtplib.SMTP, attempt: Attempt) -> Outcome:
    """One message through MAIL, RCPT and DATA, keeping `attempt.stage` current. Partial refusals are
    returned, never raised.

    Only a connection lost or timed out *during DATA* leaves the outcome unknown: before that the
    server cannot have accepted the message."""
    import aiosmtplib
    from aiosmtplib import SMTPRecipientRefused, SMTPResponseException

    out = attempt.out
    attempt.stage = "MAIL FROM"
    dsn = smtp.supports_extension("dsn")
    try:
        await smtp.mail(out.envelope_from, options=mail_options(out) if dsn else None)
        attempt.stage = "RCPT TO"
        invitee, *copies = out.envelope_to
        try:
            await smtp.rcpt(invitee, options=rcpt_options(invitee) if dsn else None)
        except SMTPRecipientRefused as error:
            await reset(smtp)
            return by_code(error.code, error.message, detail=f"{invitee} refused")
        refused = {}
        for address in copies:
            try:
                await smtp.rcpt(address, options=rcpt_options(address) if dsn else None)
            except SMTPRecipientRefused as error:
                refused[address] = (error.code, error.message)
        attempt.stage = "DATA"
        response = await smtp.data(out.data)
    except SMTPResponseException as error:
        await reset(smtp)
        return by_code(error.code, error.message, detail=f"refused at {attempt.stage}")
    except (aiosmtplib.SMTPException, OSError) as error:
        if attempt.stage == "DATA":
            return explained(
                UNKNOWN,
                # TRANSLATORS: why a message is in doubt, shown after "last:" in the pause message. DATA is the
                # SMTP command; {error} is the system's or the SMTP library's error, in English.
                N_("connection lost during DATA, the server may have accepted it: {error}"),
                error=error,
            )
        return explained(
            DEFERRED,
            # TRANSLATORS: shown after "last:" in the pause message. {stage} is the SMTP command reached
            # (MAIL FROM, RCPT TO); {error} is the system's or the SMTP library's error, in English.
            N_("connection lost at {stage}, nothing was sent: {error}"),
            stage=attempt.stage,
            error=error,
        )
    return Outcome(SENT, response.code, response.message, refused)


def mail_options(out: Outgoing) -> list[str]:
    """RFC 3461: a bounce returns the headers only (not the letter's PDF) and names our token."""
    options = ["RET=HDRS"]
    if out.envid:
        options.append(f"ENVID={xtext(out.envid)}")
    return options


def rcpt_options(address: str) -> list[str]:
    """Report failures and delays (not successes), naming the address as we sent it, since a relay may
    rewrite it (aliases, forwarding) before the mailbox that bounces."""
    options = ["NOTIFY=FAILURE,DELAY"]
    if address.isascii():
        options.append(f"ORCPT=rfc822;{xtext(address)}")
    return options


def xtext(value: str) -> str:
    """RFC 3461 xtext: "+", "=" and anything outside printable ASCII as "+XX"."""
    return "".join(f"+{ord(c):02X}" if c in "+=" or not "!" <= c <= "~" else c for c in value)


def cut_short(attempt: Attempt) -> Outcome:
    """What an attempt cut short by a stop means: before DATA the server cannot have the message."""
    if attempt.stage == "DATA":
        # TRANSLATORS: why a message is in doubt after Ctrl-C. DATA is the SMTP command.
        return explained(UNKNOWN, N_("the run was interrupted during DATA; the server may have accepted it"))
    # TRANSLATORS: {stage} is the SMTP command the message had reached (MAIL FROM, RCPT TO).
    return explained(DEFERRED, N_("the run was interrupted at {stage}; nothing was sent"), stage=attempt.stage)


async def reset(smtp: aiosmtplib.SMTP) -> None:
    """End the failed transaction so the connection can carry the next message."""
    import aiosmtplib

    try:
        await smtp.rset()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()
