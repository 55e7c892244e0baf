"""Turning a rendered letter into the exact bytes of the email that will be sent.

The bytes are built here rather than by `EmailMessage.as_bytes`: under `policy.SMTP` the email package
re-parses and re-folds every Vietnamese header (about 6 ms a message, most of a text-only send). Each header
is encoded once with the email package's own primitives instead (`email.header.Header` makes the RFC 2047
encoded words and folds the lines, `email.utils` the addresses and the date), and each body takes the
shorter of base64 and quoted-printable (base64 for Vietnamese text, about a fifth shorter). Python's parser
reads the result back to the same headers, bodies and attachment as the email package's own message would
be (tests/test_compose.py checks it on generated recipients).

Layout: multipart/mixed of (multipart/alternative of text and HTML) and the PDF; without a PDF, the
alternative alone. Lines end in CRLF; no line is longer than 78 characters in the headers or 76 in the bodies.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from email import quoprimime
from email.header import Header
from email.utils import format_datetime, formataddr

from .errors import MailmergeError
from .i18n import _
from .models import Campaign, Letter

CRLF = "\r\n"
MAX_LINE = 78  # RFC 5322's recommended limit
MAX_WORD = 75  # RFC 2047's limit for an encoded word: a folded line holds a space and one of them
ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # a word that may stand in a display name as it is


def compose(
    letter: Letter,
    campaign: Campaign,
    *,
    message_id: str,
    reply_to: str | None,
    now: datetime,
    thread: tuple[str, ...] = (),
    attachments: tuple[str, ...] = (),
) -> bytes:
    """The email: text + HTML alternatives, the letter's PDF and the campaign's `attachments` (MIME parts,
    encoded once for the campaign by `attachments.encoded`). A message that follows others (`thread`, oldest
    first) answers the last and refers to all of them, so that mail clients show it in the same
    conversation. A line break in a header value (header injection) is a `MailmergeError`."""
    recipient = letter.recipient
    sender = campaign.sender
    values = {
        "From": sender.name,
        "To": recipient.name,
        "Cc": " ".join(recipient.cc),
        "Subject": letter.subject,
        "Message-ID": message_id,
        "References": " ".join(thread),
        "Content-Description": letter.attachment_description,
    }
    if broken := [name for name, value in values.items() if "\r" in value or "\n" in value]:
        # TRANSLATORS: {row} is the recipient's row in the recipients file; {error} says which header would
        # hold a line break, in English (e.g. "a line break in the To header"), which is not translated.
        message = _("cannot build the email for recipients row {row}: {error}")
        error = f"a line break in the {broken[0]} header"
        raise MailmergeError(message.format(row=recipient.row, error=error))
    fields = [
        address_field("From", sender.name, sender.email),
        address_field("To", recipient.name, recipient.email),
    ]
    if recipient.cc:
        fields.append(field("Cc", ", ".join(recipient.cc)))
    if reply_to:
        fields.append(address_field("Reply-To", sender.name, reply_to))
    fields += [
        field("Subject", letter.subject),
        field("Date", format_datetime(now)),
        field("Message-ID", message_id),
    ]
    if thread:
        fields += [field("In-Reply-To", thread[-1]), field("References", " ".join(thread))]
    boundary = "=_mm_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]  # "=_" is never in base64 or QP
    alternative = multipart(
        "alternative", f"{boundary}_a", [text_part("plain", letter.text), text_part("html", letter.html)]
    )
    files = [pdf_part(letter)] if letter.pdf is not None else []
    files += attachments
    body = multipart("mixed", f"{boundary}_m", [alternative, *files]) if files else alternative
    head = CRLF.join([*fields, "MIME-Version: 1.0"])
    return (head + CRLF + body).encode("utf-8")  # ASCII, except an address beyond it (SMTPUTF8)


def field(name: str, value: str) -> str:
    """`Name: value`, folded; a value beyond ASCII as RFC 2047 encoded words."""
    charset = "us-ascii" if value.isascii() else "utf-8"
    return f"{name}: " + Header(value, charset, header_name=name).encode(linesep=CRLF, maxlinelen=MAX_WORD + 1)


def address_field(name: str, display_name: str, address: str) -> str:
    """`Name: display name <address>`: an ASCII name quoted where it must be; another one as the email package
    writes it, its plain ASCII words as they are and the others as encoded words, so that no two encoded
    words meet (where they meet, RFC 2047 decoders drop the space between them, and Python's keeps it)."""
    if not display_name:
        return f"{name}: {address}"
    if display_name.isascii() and "=?" not in display_name:  # "=?…?=" typed in a name is not an encoded word
        return field(name, formataddr((display_name, address)))
    return folded(f"{name}:", [*phrase(display_name), f"<{address}>"])


def phrase(text: str) -> list[str]:
    """The words of a display name: runs of words that are not plain ASCII become encoded words, each run
    one word when it fits in 75 characters (a longer run is split where `Header` splits it)."""
    tokens: list[str] = []
    run: list[str] = []
    for word in text.split(" "):
        if ATEXT.fullmatch(word) and "=?" not in word:
            if run:
                tokens += encoded_words(" ".join(run))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens += encoded_words(" ".join(run))
    return tokens


def encoded_words(text: str) -> list[str]:
    return Header(text, "utf-8").encode(linesep=CRLF, maxlinelen=MAX_WORD).split(CRLF + " ")


def folded(start: str, tokens: list[str]) -> str:
    """`start` and the tokens separated by spaces, in lines of at most 78 characters where they allow."""
    lines = [start]
    for token in tokens:
        if len(lines[-1]) + 1 + len(token) > MAX_LINE and lines[-1].strip():
            lines.append("")
        lines[-1] += " " + token
    return CRLF.join(lines)


def text_part(subtype: str, text: str) -> str:
    """A UTF-8 text part in base64 or quoted-printable, whichever is shorter; its lines end in CRLF, the last
    one too (as the email package writes them)."""
    lines = text.encode("utf-8").splitlines()
    quoted = quoprimime.body_encode((b"\n".join(lines) + b"\n").decode("latin-1"), maxlinelen=76, eol=CRLF)
    encoded = base64_lines(b"\r\n".join(lines) + b"\r\n")
    encoding, data = ("quoted-printable", quoted) if len(quoted) <= len(encoded) else ("base64", encoded)
    headers = [f'Content-Type: text/{subtype}; charset="utf-8"', f"Content-Transfer-Encoding: {encoding}"]
    return CRLF.join(headers) + CRLF + CRLF + data + ("" if data.endswith(CRLF) else CRLF)


def pdf_part(letter: Letter) -> str:
    """The letter's PDF as an attachment; its file name is ASCII by design (see `Renderer.attachment_name`)."""
    headers = [
        "Content-Type: application/pdf",
        "Content-Transfer-Encoding: base64",
        field("Content-Disposition", f'attachment; filename="{letter.attachment_name}"'),
        field("Content-Description", letter.attachment_description),
    ]
    return CRLF.join(headers) + CRLF + CRLF + base64_lines(letter.pdf or b"")


def base64_lines(data: bytes) -> str:
    """Base64 in lines of 76 characters, each ending in CRLF."""
    return base64.encodebytes(data).decode("ascii").replace("\n", CRLF)


def multipart(subtype: str, boundary: str, parts: list[str]) -> str:
    """A multipart entity: its headers, then each part between boundary lines."""
    lines = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"', ""]
    for part in parts:
        lines += [f"--{boundary}", part]  # each part ends in CRLF: the line break before a boundary is its own
    lines += [f"--{boundary}--", ""]
    return CRLF.join(lines)
