"""Turning a rendered letter into the exact email that will be sent."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from .errors import MailmergeError
from .i18n import _
from .models import Campaign, Letter


def compose(
    letter: Letter,
    campaign: Campaign,
    *,
    message_id: str,
    reply_to: str | None,
    now: datetime,
    thread: tuple[str, ...] = (),
) -> EmailMessage:
    """Text + HTML alternatives and the PDF; Python's email package does the RFC 2047/2231 encoding. A
    message that follows others (`thread`, oldest first) answers the last and refers to all of them, so
    that mail clients show it in the same conversation.

    The email package refuses CR/LF in any header (header injection); that becomes a `MailmergeError`."""
    try:
        message = _build(letter, campaign, message_id=message_id, reply_to=reply_to, now=now)
        if thread:
            message["In-Reply-To"] = thread[-1]
            message["References"] = " ".join(thread)
        return message
    except ValueError as error:
        # TRANSLATORS: {row} is the recipient's row in the recipients file; {error} is the English text of
        # Python's email package (e.g. a line break in a header), which is not translated.
        message = _("cannot build the email for recipients row {row}: {error}")
        raise MailmergeError(message.format(row=letter.recipient.row, error=error)) from None


def _build(letter: Letter, campaign: Campaign, *, message_id: str, reply_to: str | None, now: datetime) -> EmailMessage:
    recipient = letter.recipient
    message = EmailMessage()
    message["From"] = Address(campaign.sender.name, addr_spec=campaign.sender.email)
    message["To"] = Address(recipient.name, addr_spec=recipient.email)
    if recipient.cc:
        message["Cc"] = ", ".join(recipient.cc)
    if reply_to:
        message["Reply-To"] = Address(campaign.sender.name, addr_spec=reply_to)
    message["Subject"] = letter.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message.set_content(letter.text, cte="quoted-printable")
    message.add_alternative(letter.html, subtype="html", cte="quoted-printable")
    if letter.pdf is not None:
        message.add_attachment(
            letter.pdf,
            maintype="application",
            subtype="pdf",
            filename=letter.attachment_name,
            headers=[f"Content-Description: {letter.attachment_description}"],
        )
    return message
