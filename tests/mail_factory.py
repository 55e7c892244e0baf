"""Mail that answers what a test really sent: replies in the styles of real mail clients, a Postfix DSN,
an out-of-office, a forged token. Built from the invitation as the SMTP server received it, so it carries
the real Message-ID and Reply-To token."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

VIETNAM = timezone(timedelta(hours=7))
WHEN = datetime(2020, 8, 22, 9, 30, tzinfo=VIETNAM)


def invitation(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def reply(
    sent: bytes,
    text: str,
    *,
    thread: bool = True,
    to_reply_address: bool = True,
    minutes: int = 0,
    sender: str | None = None,
    html: bool = False,
) -> bytes:
    """A reply as Gmail writes one: the answer, then the invitation quoted below "… đã viết:"."""
    original = invitation(sent)
    name, address = parseaddr(str(original["To"]))
    message = EmailMessage()
    message["From"] = sender or f"{name} <{address}>"
    message["To"] = str(original["Reply-To"] if to_reply_address else original["From"])
    message["Subject"] = f"Re: {original['Subject']}"
    message["Date"] = format_datetime(WHEN + timedelta(minutes=minutes))
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2])
    if thread:
        message["In-Reply-To"] = str(original["Message-ID"])
        message["References"] = str(original["Message-ID"])
    quoted = "\n".join(f"> {line}" for line in original.get_body(("plain",)).get_content().splitlines())
    body = f"{text}\n\nVào Th 6, 21 thg 8, 2020 lúc 08:00 Văn phòng <vanphong@mttq-quan5.example> đã viết:\n{quoted}\n"
    if html:
        paragraphs = "".join(f"<p>{line}</p>" for line in text.splitlines())
        message.set_content(f"<html><body>{paragraphs}<blockquote>{quoted}</blockquote></body></html>", subtype="html")
    else:
        message.set_content(body)
    return message.as_bytes(policy=policy.SMTP)


def out_of_office(sent: bytes) -> bytes:
    original = invitation(sent)
    name, address = parseaddr(str(original["To"]))
    message = EmailMessage()
    message["From"] = f"{name} <{address}>"
    message["To"] = str(original["Reply-To"])
    message["Subject"] = f"Trả lời tự động: {original['Subject']}"
    message["Date"] = format_datetime(WHEN)
    message["Auto-Submitted"] = "auto-replied"
    message["In-Reply-To"] = str(original["Message-ID"])
    message.set_content("Tôi đang đi công tác đến hết ngày 30/8/2020. Xin liên hệ văn phòng.\n")
    return message.as_bytes(policy=policy.SMTP)


def postfix_bounce(sent: bytes, address: str, *, status: str = "5.1.1", action: str = "failed") -> bytes:
    """An RFC 3464 report as Postfix writes it, returning only the original's headers (RET=HDRS)."""
    headers = re.split(rb"\r?\n\r?\n", sent, maxsplit=1)[0].decode("ascii").replace("\r\n", "\n")
    boundary = "8A2B31A0F3.1598063400/relay.mttq-quan5.example"
    subject = {"failed": "Undelivered Mail Returned to Sender", "delayed": "Delayed Mail (still being retried)"}[action]
    code = "550" if action == "failed" else "450"
    domain = address.rpartition("@")[2]
    text = f"""From: MAILER-DAEMON@relay.mttq-quan5.example (Mail Delivery System)
To: vanphong@mttq-quan5.example
Subject: {subject}
Date: {format_datetime(WHEN)}
Auto-Submitted: auto-replied
Message-Id: <20200822023000.8A2B31A0F3@relay.mttq-quan5.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{boundary}"

This is a MIME-encapsulated message.

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host relay.mttq-quan5.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{address}>: host mx.{domain} said: {code} {status} <{address}>: Recipient
    address rejected: User unknown

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.mttq-quan5.example
X-Postfix-Queue-ID: 8A2B31A0F3
Arrival-Date: {format_datetime(WHEN)}

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822;{address}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.{domain}
Diagnostic-Code: smtp; {code} {status} <{address}>: Recipient address rejected:
    User unknown

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{headers}

--{boundary}--
"""
    return text.replace("\n", "\r\n").encode("ascii")


def forged(sent: bytes) -> bytes:
    """A reply whose In-Reply-To carries our token, altered."""
    original = invitation(sent)
    message_id = str(original["Message-ID"])
    at = message_id.index("@")  # the signature ends just before it
    altered = message_id[: at - 1] + ("a" if message_id[at - 1] != "a" else "b") + message_id[at:]
    message = EmailMessage()
    message["From"] = "Người lạ <stranger@elsewhere.example>"
    message["To"] = "vanphong@mttq-quan5.example"
    message["Subject"] = f"Re: {original['Subject']}"
    message["Date"] = format_datetime(WHEN)
    message["In-Reply-To"] = altered
    message.set_content("Xin xác nhận tham dự.\n")
    return message.as_bytes(policy=policy.SMTP)


def spam() -> bytes:
    message = EmailMessage()
    message["From"] = "Khuyến mãi <deals@shop.example>"
    message["To"] = "vanphong@mttq-quan5.example"
    message["Subject"] = "Giảm giá 50% hôm nay!"
    message["Date"] = format_datetime(WHEN)
    message.set_content("Mua ngay, số lượng có hạn.\n")
    return message.as_bytes(policy=policy.SMTP)
