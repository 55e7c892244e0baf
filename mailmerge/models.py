"""Plain data passed between the modules. Imports nothing from the package."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True)
class Recipient:
    """One invitee, as read from one row of the recipients file (all text NFC-normalised)."""

    row: int
    order: int
    group: str
    organisation: str
    position: str
    salutation: str
    name: str
    email: str
    cc: tuple[str, ...] = ()
    phone: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Stable identifier used in tokens and on the command line: the protocol order."""
        return str(self.order)

    def as_template_data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order": self.order,
            "group": self.group,
            "organisation": self.organisation,
            "position": self.position,
            "salutation": self.salutation,
            "name": self.name,
            "email": self.email,
            "cc": list(self.cc),
            "phone": self.phone,
            **self.extra,
        }


@dataclass(frozen=True)
class ServerSettings:
    """How to reach an SMTP (or later IMAP) server; the password is never stored here."""

    host: str
    port: int
    security: Security
    username: str | None = None
    timeout: float = 30.0
    verify_certificate: bool = True
    allow_plaintext_auth: bool = False
    ca_file: Path | None = None
    helo_name: str | None = None  # SMTP: the EHLO name set in the campaign; None: worked out (see connection)
    sender_domain: str | None = None  # SMTP: the EHLO name when the computer has no fully qualified one


@dataclass(frozen=True)
class SendSettings:
    """`[send]`: how hard to try. The n-th retry of a 4xx waits retry_delay * 2**(n-1) seconds."""

    retries: int = 3
    retry_delay: float = 5.0
    pause_after: int = 5


@dataclass(frozen=True)
class Sender:
    name: str
    email: str
    reply_to_tokens: bool = True
    verp: bool = False  # the envelope sender carries the recipient's token (for relays that drop DSN options)

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]


@dataclass(frozen=True)
class Page:
    """`[page]`: paper size and margins as CSS lengths (Decree 30: A4, 20/20/30/15 mm)."""

    size: str = "A4"
    margin_top: str = "20mm"
    margin_right: str = "15mm"
    margin_bottom: str = "20mm"
    margin_left: str = "30mm"


@dataclass(frozen=True)
class Campaign:
    """A campaign folder, as `campaign.toml` declares it: where things are, who sends, how, and the
    letter's data for the templates."""

    folder: Path
    slug: str
    recipients_file: Path
    templates_dir: Path
    sender: Sender
    smtp: ServerSettings
    template_data: dict[str, Any]  # the letter's tables (event, document, …) as the templates read them
    event_starts_at: datetime
    document_number: str
    document_symbol: str
    type_name: str
    attachment_prefix: str = "Giay-moi"
    attach_pdf: bool = True
    attachments: tuple[Path, ...] = ()  # files every invitation carries besides its letter
    encoding: str | None = None  # of the recipients CSV; None: detected
    page: Page = field(default_factory=Page)
    custom_keys: dict[str, int | None] = field(default_factory=dict)  # "event.dress_code" -> its line
    imap: ServerSettings | None = None
    imap_folders: tuple[str, ...] = ("INBOX",)
    sent_folder: str | None = None  # None: the one the server marks \\Sent
    copy_to_sent: bool = True  # with [imap]: a copy of each sent message in the Sent folder
    send: SendSettings = field(default_factory=SendSettings)
    reminder_prefix: str = "Nhắc lại:"  # before a reminder's subject
    identity: str | None = None  # `[campaign] id`, random, from `init`; None for a campaign made before ids

    @property
    def ledger_file(self) -> Path:
        return self.folder / "ledger.db"

    @property
    def token_name(self) -> str:
        """The campaign as its tokens name it: the slug, and the identity that makes it unique."""
        return f"{self.slug}.{self.identity}" if self.identity else self.slug


@dataclass(frozen=True)
class Letter:
    """What rendering produced for one recipient: the PDF and the email bodies."""

    recipient: Recipient
    pdf: bytes | None  # None for a text-only campaign (attach_pdf = false)
    subject: str
    text: str
    html: str
    attachment_name: str
    attachment_description: str
