"""The declared shape of `campaign.toml`: every table, its keys, their types, defaults and allowed values.

Pydantic does the checking (imported only when a campaign is loaded, so `mailmerge --help` stays fast);
`campaign.py` turns its findings into `Problem`s with the TOML line and builds the plain `models.Campaign`.
Settings tables refuse unknown keys. The letter's tables (letter, document, event, signature,
distribution) are open: extra keys go to the templates as they are.
"""

from __future__ import annotations

import codecs
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from . import officetime
from .address_reasons import explain
from .i18n import _
from .models import SendSettings, ServerSettings

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
CSS_LENGTH = re.compile(r"^\d+(?:\.\d+)?\s*(?:mm|cm|in|pt|pc|px)$")
PAGE_SIZES = ("A3", "A4", "A5", "B4", "B5", "letter", "legal")
CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _one_line(value: str) -> str:
    """Text that ends up in headers and single lines of the letter: no line breaks or control characters."""
    if CONTROL.search(value):
        # TRANSLATORS: shown after "campaign.toml:line [table.key]: ", the setting being the subject.
        raise ValueError(_("must be one line, without line breaks or control characters"))
    return value


def _lines(value: Any) -> Any:
    """A list of lines; a single string is taken as its own lines (one per line of a multi-line string),
    never as a list of characters."""
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    return value


CAMPAIGN_ID = re.compile(r"[a-z][a-z2-7]{9}")
HELO_NAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]|\[[0-9a-f.:]+\]", re.I)


def _campaign_id(value: str) -> str:
    if not CAMPAIGN_ID.fullmatch(value):
        # TRANSLATORS: about `[campaign] id`, which `mailmerge init` writes; `mailmerge init --from` makes a new one.
        raise ValueError(
            _("is not an identifier written by `mailmerge init`; copy a campaign with `mailmerge init --from`")
        )
    return value


def _slug(value: str) -> str:
    if not SLUG.match(value):
        # TRANSLATORS: about `[campaign] slug`, the campaign's short name: ASCII letters a-z only.
        raise ValueError(_("use 1-40 lowercase letters, digits and hyphens, starting with a letter or digit"))
    return value


def _helo_name(value: str) -> str:
    """A fully qualified domain name, or an address literal: relays reject a bare host name."""
    if HELO_NAME.fullmatch(value):
        return value.lower()
    # TRANSLATORS: about `[smtp] helo_name`, the name the computer gives itself to the mail server; the
    # examples are typed as they are.
    raise ValueError(_("use the computer's full domain name, e.g. may01.mttq-quan5.example, or an address in brackets"))


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as error:
        # TRANSLATORS: {value} is an address as written in campaign.toml; {reason} says why (translated in
        # address_reasons.py where it is a common reason, else email-validator's English).
        message = _("“{value}” is not a valid email address: {reason}")
        raise ValueError(message.format(value=value, reason=explain(str(error)))) from None


def _encoding(value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        # TRANSLATORS: {value} is an encoding's name as written in campaign.toml; utf-8 … cp1258 are names to type.
        message = _("“{value}” is not an encoding Python knows; try utf-8, utf-8-sig, utf-16 or cp1258")
        raise ValueError(message.format(value=value)) from None
    return value


def _css_length(value: str) -> str:
    if not CSS_LENGTH.match(value.strip()):
        # TRANSLATORS: {value} is a page margin as written in campaign.toml; the examples are typed as they are.
        message = _("“{value}” is not a length; write it as “20mm”, “2cm”, “0.8in” or “57pt”")
        raise ValueError(message.format(value=value))
    return value.strip()


def _page_size(value: str) -> str:
    words = value.split()
    known = {size.lower(): size for size in PAGE_SIZES}
    if not 1 <= len(words) <= 2 or words[0].lower() not in known or words[1:] not in ([], ["portrait"], ["landscape"]):
        # TRANSLATORS: {value} is a page size as written in campaign.toml; {sizes} are the names to type ("A3, A4, …");
        # “landscape” is typed as it is, after the size ("A4 landscape").
        message = _("“{value}” is not a page size; use one of {sizes}, optionally “landscape”")
        raise ValueError(message.format(value=value, sizes=", ".join(PAGE_SIZES)))
    return " ".join([known[words[0].lower()], *words[1:]])


Line = Annotated[str, AfterValidator(_one_line)]
Lines = Annotated[list[Line], BeforeValidator(_lines)]
DocumentNumber = Annotated[Line, BeforeValidator(lambda value: str(value) if isinstance(value, int) else value)]
OfficeDate = Annotated[date, BeforeValidator(officetime.parse_date)]
OfficeDateTime = Annotated[datetime, BeforeValidator(officetime.parse_datetime)]
CssLength = Annotated[str, AfterValidator(_css_length)]
Seconds = Annotated[float, Field(gt=0)]


class Settings(BaseModel):
    """A table of settings: a key not declared here is a mistake."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Open(BaseModel):
    """A table of the letter: declared keys are checked, any other key is passed to the templates."""

    model_config = ConfigDict(extra="allow", frozen=True)


class CampaignTable(Settings):
    slug: Annotated[str, AfterValidator(_slug)]
    id: Annotated[str, AfterValidator(_campaign_id)] | None = None  # written by `init`; None: made before ids
    recipients: str = "recipients.csv"
    templates: str = "templates"
    attachment_prefix: Line = "Giay-moi"
    attach_pdf: bool = True
    attachments: list[Line] = []  # files of the campaign folder that every invitation carries
    encoding: Annotated[str, AfterValidator(_encoding)] | None = None
    language: Literal["vi", "en"] | None = None  # of the interface; MAILMERGE_LANG overrides it


class SenderTable(Settings):
    name: Line = ""
    email: Annotated[str, AfterValidator(_email)]
    reply_to_tokens: bool = True
    verp: bool = False


class ReminderTable(Settings):
    subject_prefix: Line = "Nhắc lại:"


class ServerTable(Settings):
    host: Line
    port: int = Field(ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: Line | None = None
    timeout: Seconds = ServerSettings.timeout
    verify_certificate: bool = True
    allow_plaintext_auth: bool = False
    ca_file: str | None = None


class SmtpTable(ServerTable):
    helo_name: Annotated[str, AfterValidator(_helo_name)] | None = None


class ImapTable(ServerTable):
    folders: list[Line] = ["INBOX"]
    sent_folder: Line | None = None  # None: the folder the server marks \\Sent
    copy_to_sent: bool = True


class SendTable(Settings):
    retries: int = Field(SendSettings.retries, ge=0)
    retry_delay: float = Field(SendSettings.retry_delay, ge=0)
    pause_after: int = Field(SendSettings.pause_after, ge=1)


class PageTable(Settings):
    size: Annotated[str, AfterValidator(_page_size)] = "A4"
    margin_top: CssLength = "20mm"
    margin_bottom: CssLength = "20mm"
    margin_left: CssLength = "30mm"
    margin_right: CssLength = "15mm"


class LetterTable(Open):
    parent_body: Lines = []
    issuing_body: Line
    right_heading: Line = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    right_motto: Line = "Độc lập - Tự do - Hạnh phúc"
    type_name: Line = "GIẤY MỜI"
    invitation_lead: Line


class DocumentTable(Open):
    number: DocumentNumber
    symbol: Line
    place: Line
    date: OfficeDate


class EventTable(Open):
    title: Line
    short_title: Line = ""
    summary: Line = ""
    starts_at: OfficeDateTime
    ends_at: OfficeDateTime | None = None
    place: Line
    agenda: Lines = []
    contact: Line = ""

    @model_validator(mode="before")
    @classmethod
    def short_title_defaults_to_title(cls, data: Any) -> Any:
        """The email subject uses the short title; without one, the full title."""
        if isinstance(data, dict) and not data.get("short_title") and isinstance(data.get("title"), str):
            return data | {"short_title": data["title"]}
        return data


class SignatureTable(Open):
    authority: Line
    title: Line
    name: Line


class DistributionTable(Open):
    copies: Lines = []
    archive: Line = "Lưu: VT"


class CampaignFile(Settings):
    """The whole of `campaign.toml`."""

    campaign: CampaignTable
    sender: SenderTable
    smtp: SmtpTable
    imap: ImapTable | None = None
    send: SendTable = SendTable()
    reminder: ReminderTable = ReminderTable()
    page: PageTable = PageTable()
    letter: LetterTable
    document: DocumentTable
    event: EventTable
    signature: SignatureTable
    distribution: DistributionTable = DistributionTable()


LETTER_TABLES = ("letter", "document", "event", "signature", "distribution")


def declared_keys(table: str) -> tuple[str, ...]:
    """The keys `table` declares (for suggestions); the table names themselves for ""."""
    model = CampaignFile if not table else _table_model(table)
    return tuple(model.model_fields) if model else ()


def _table_model(table: str) -> type[BaseModel] | None:
    field = CampaignFile.model_fields.get(table)
    if field is None:
        return None
    annotation = field.annotation
    candidates = getattr(annotation, "__args__", (annotation,))
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
