"""The email as Python's email package builds it (`EmailMessage` + `policy.SMTP`): the oracle that the
composer's own bytes are checked against. It was the composer itself until the bytes were built directly."""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from mailmerge.models import Campaign, Letter


def reference_bytes(
    letter: Letter,
    campaign: Campaign,
    *,
    message_id: str,
    reply_to: str | None,
    now: datetime,
    thread: tuple[str, ...] = (),
) -> bytes:
    from email.utils import format_datetime

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
    if thread:
        message["In-Reply-To"] = thread[-1]
        message["References"] = " ".join(thread)
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
    return message.as_bytes(policy=policy.SMTP)
