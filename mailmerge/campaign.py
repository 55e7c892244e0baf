"""The campaign folder: `campaign.toml`, the recipients file and the templates.

Everything about the event, the issuing body and the letter lives in `campaign.toml`, never in code.
"""

from __future__ import annotations

import difflib
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

from .errors import CampaignError, InputError, Problem
from .models import Campaign, Sender, SendSettings, ServerSettings

CAMPAIGN_FILE = "campaign.toml"
SECURITY_CHOICES = ("starttls", "tls", "none")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
REQUIRED_TABLES = ("campaign", "sender", "smtp", "page", "letter", "document", "event", "signature")
SERVER_KEYS = {
    "host",
    "port",
    "security",
    "username",
    "timeout",
    "verify_certificate",
    "allow_plaintext_auth",
    "ca_file",
}
# Tables of settings: a key not listed here is a typo. The letter's tables (letter, document, event,
# signature, distribution) are free-form: every key there is available to the templates.
KNOWN_KEYS = {
    "campaign": {"slug", "recipients", "templates", "attachment_prefix", "attach_pdf", "encoding"},
    "sender": {"name", "email", "reply_to_tokens"},
    "smtp": SERVER_KEYS,
    "imap": SERVER_KEYS | {"mailbox"},
    "send": {"retries", "retry_delay", "pause_after"},
    "page": {"size", "margin_top", "margin_bottom", "margin_left", "margin_right"},
}


def seed_folder() -> Path:
    """The seed campaign shipped with the package (inside a wheel) or at the top of a checkout."""
    packaged = Path(__file__).parent / "_campaign"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent


def load_campaign(folder: Path) -> Campaign:
    """Read and check `campaign.toml` in `folder`; raise `InputError` listing every problem."""
    path = folder / CAMPAIGN_FILE
    if not path.is_file():
        raise CampaignError(
            f"no {CAMPAIGN_FILE} in {folder.resolve()}: run `mailmerge init {folder}` or pass --campaign DIR"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InputError([Problem(str(path), f"not valid TOML: {error}")]) from None

    problems = [Problem(str(path), f"missing table [{table}]") for table in REQUIRED_TABLES if table not in data]
    if problems:
        raise InputError(problems)
    checker = _Checker(str(path), data)
    checker.unknown_keys()
    slug = checker.text("campaign", "slug")
    if slug and not SLUG.match(slug):
        checker.fail("campaign", "slug", "use 1-40 lowercase letters, digits and hyphens")
    sender_email = checker.text("sender", "email")
    if sender_email and "@" not in sender_email:
        checker.fail("sender", "email", "must be an email address")
    smtp = checker.server("smtp")
    imap = checker.server("imap") if "imap" in data else None
    send = checker.send_settings()
    for key in ("number", "symbol", "place", "date"):
        checker.value("document", key)
    for key in ("title", "starts_at", "place"):
        checker.value("event", key)
    for key in ("authority", "title", "name"):
        checker.text("signature", key)
    if checker.problems:
        raise InputError(checker.problems)

    section = data["campaign"]
    return Campaign(
        folder=folder.resolve(),
        slug=slug,
        recipients_file=(folder / section.get("recipients", "recipients.csv")).resolve(),
        templates_dir=(folder / section.get("templates", "templates")).resolve(),
        sender=Sender(
            name=data["sender"].get("name", ""),
            email=sender_email,
            reply_to_tokens=bool(data["sender"].get("reply_to_tokens", True)),
        ),
        smtp=smtp,
        imap=imap,
        data=data,
        send=send,
    )


class _Checker:
    """Collects problems while reading values out of the parsed TOML."""

    def __init__(self, file: str, data: dict[str, Any]):
        self.file = file
        self.data = data
        self.problems: list[Problem] = []

    def fail(self, table: str, key: str, message: str) -> None:
        self.problems.append(Problem(self.file, message, column=f"{table}.{key}"))

    def value(self, table: str, key: str) -> Any:
        value = self.data.get(table, {}).get(key)
        if value in (None, ""):
            self.fail(table, key, "is required")
        return value

    def text(self, table: str, key: str) -> str:
        value = self.value(table, key)
        if value is not None and not isinstance(value, str):
            self.fail(table, key, "must be a quoted string")
            return ""
        return value or ""

    def unknown_keys(self) -> None:
        for table, known in KNOWN_KEYS.items():
            section = self.data.get(table, {})
            if not isinstance(section, dict):
                self.problems.append(Problem(self.file, f"[{table}] must be a table", column=table))
                continue
            for key in sorted(set(section) - known):
                guess = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean “{guess[0]}”?" if guess else f"; known: {', '.join(sorted(known))}"
                self.fail(table, key, f"unknown setting{hint}")

    def number(self, table: str, key: str, default: float, *, minimum: float, whole: bool) -> float:
        value = self.data.get(table, {}).get(key, default)
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
            self.fail(table, key, f"must be a {'whole ' if whole else ''}number of at least {minimum:g}")
            return default
        return value

    def send_settings(self) -> SendSettings:
        defaults = SendSettings()
        return SendSettings(
            retries=int(self.number("send", "retries", defaults.retries, minimum=0, whole=True)),
            retry_delay=float(self.number("send", "retry_delay", defaults.retry_delay, minimum=0, whole=False)),
            pause_after=int(self.number("send", "pause_after", defaults.pause_after, minimum=1, whole=True)),
        )

    def server(self, table: str) -> ServerSettings | None:
        section = self.data.get(table, {})
        host = self.text(table, "host")
        port = section.get("port")
        security = section.get("security", "starttls")
        if not isinstance(port, int) or not 0 < port < 65536:
            self.fail(table, "port", "must be a number from 1 to 65535")
        if security not in SECURITY_CHOICES:
            self.fail(table, "security", f"must be one of {', '.join(SECURITY_CHOICES)}")
        ca_file = section.get("ca_file")
        if self.problems:
            return None
        return ServerSettings(
            host=host,
            port=port,
            security=security,
            username=section.get("username") or None,
            timeout=float(section.get("timeout", 30)),
            verify_certificate=bool(section.get("verify_certificate", True)),
            allow_plaintext_auth=bool(section.get("allow_plaintext_auth", False)),
            ca_file=Path(ca_file) if ca_file else None,
        )


def init_campaign(folder: Path) -> list[Path]:
    """Copy the seed campaign into `folder` as a starting point; never overwrite. Returns what was written."""
    seed = seed_folder()
    sources = [seed / CAMPAIGN_FILE, seed / "recipients.csv", *sorted((seed / "templates").iterdir())]
    written = []
    for source in sources:
        target = folder / source.relative_to(seed)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    return written
