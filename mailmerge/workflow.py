"""Coordinates the steps (load, validate, render, compose) for the commands. Never prints or prompts:
the CLI shows progress through the callbacks given here."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from statistics import median

from . import tokens
from .campaign import load_campaign
from .compose import compose
from .errors import MailmergeError
from .models import Campaign, Letter, Recipient
from .recipients import load_recipients
from .render import Renderer, embedded_fonts

PREFERRED_FONTS = ("TimesNewRoman", "Times New Roman", "Tinos", "LiberationSerif", "Liberation Serif")
NOTICE_WORKING_DAYS = 3  # Decision 45/2018/QĐ-TTg: invitations at least 3 working days ahead


@dataclass(frozen=True)
class Loaded:
    campaign: Campaign
    recipients: list[Recipient]


def load(folder: Path) -> Loaded:
    """Campaign and recipients, both fully validated."""
    campaign = load_campaign(folder)
    encoding = campaign.data["campaign"].get("encoding")
    return Loaded(campaign, load_recipients(campaign.recipients_file, encoding=encoding))


def select(recipients: list[Recipient], wanted: Iterable[str]) -> list[Recipient]:
    """Recipients named by protocol order (ID) or email; an unknown name is an error."""
    wanted = list(wanted)
    if not wanted:
        return recipients
    by_key = {r.id: r for r in recipients} | {r.email.lower(): r for r in recipients}
    unknown = [w for w in wanted if w.strip().lower() not in by_key]
    if unknown:
        raise MailmergeError(f"no recipient with ID or email {', '.join(unknown)}; see `mailmerge check`")
    chosen = {by_key[w.strip().lower()].id for w in wanted}
    return [r for r in recipients if r.id in chosen]


class Composer:
    """Renders and composes the exact email for a recipient, the same way for preview and send."""

    def __init__(self, campaign: Campaign, key: bytes | None = None):
        self.campaign = campaign
        self.renderer = Renderer(campaign)
        self.key = key if key is not None else tokens.load_key()

    def message_id(self, recipient: Recipient, kind: str = "invitation") -> str:
        return tokens.message_id(self.key, self.campaign.slug, recipient.id, kind, self.campaign.sender.domain)

    def build(
        self, recipient: Recipient, *, kind: str = "invitation", now: datetime | None = None
    ) -> tuple[Letter, EmailMessage]:
        letter = self.renderer.render(recipient)
        sender = self.campaign.sender
        reply_to = (
            tokens.reply_address(self.key, self.campaign.slug, recipient.id, sender.email)
            if sender.reply_to_tokens
            else None
        )
        message = compose(
            letter,
            self.campaign,
            message_id=self.message_id(recipient, kind),
            reply_to=reply_to,
            now=now or datetime.now().astimezone(),
        )
        return letter, message


@dataclass
class CheckReport:
    recipients: list[Recipient]
    groups: Counter[str]
    fonts: dict[str, bool] = field(default_factory=dict)
    render_seconds: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def median_render_ms(self) -> float:
        return median(self.render_seconds) * 1000 if self.render_seconds else 0.0


def check(
    folder: Path, *, today: date | None = None, on_rendered: Callable[[Recipient], None] | None = None
) -> CheckReport:
    """Load and render everything (PDFs included) without sending; raise on the first real problem."""
    loaded = load(folder)
    composer = Composer(loaded.campaign)
    report = CheckReport(loaded.recipients, Counter(r.group or "(no group)" for r in loaded.recipients))
    for recipient in loaded.recipients:
        started = time.perf_counter()
        letter, _ = composer.build(recipient)
        report.render_seconds.append(time.perf_counter() - started)
        report.fonts |= embedded_fonts(letter.pdf)
        if on_rendered:
            on_rendered(recipient)
    report.warnings = campaign_warnings(loaded.campaign, report.fonts, today or date.today())
    return report


def campaign_warnings(campaign: Campaign, fonts: dict[str, bool], today: date) -> list[str]:
    warnings = []
    not_embedded = sorted(name for name, embedded in fonts.items() if not embedded)
    if not_embedded:
        warnings.append(f"fonts not embedded in the PDF: {', '.join(not_embedded)}")
    if fonts and not any(name.startswith(PREFERRED_FONTS) for name in fonts):
        warnings.append(
            f"no Times-metric font was found, the letter uses {', '.join(sorted(fonts))}; "
            "install fonts-croscore (Tinos) or fonts-liberation2"
        )
    event_day = campaign.data["event"]["starts_at"]
    event_day = event_day.date() if isinstance(event_day, datetime) else event_day
    if event_day < today:
        warnings.append(f"the event ({event_day:%d/%m/%Y}) is in the past")
    elif working_days_between(today, event_day) < NOTICE_WORKING_DAYS:
        warnings.append(
            f"less than {NOTICE_WORKING_DAYS} working days before the event ({event_day:%d/%m/%Y}): "
            "invitations should arrive at least 3 working days ahead"
        )
    return warnings


def working_days_between(start: date, end: date) -> int:
    """Monday-Friday days strictly after `start` and strictly before `end`."""
    return sum(1 for n in range(start.toordinal() + 1, end.toordinal()) if date.fromordinal(n).weekday() < 5)


def preview(
    folder: Path,
    out: Path,
    *,
    wanted: Iterable[str] = (),
    png: bool = False,
    on_written: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write `.eml` + `.pdf` (and a PNG of page 1 when pdftoppm exists) for the chosen recipients."""
    loaded = load(folder)
    chosen = select(loaded.recipients, wanted)
    composer = Composer(loaded.campaign)
    out.mkdir(parents=True, exist_ok=True)
    pdftoppm = shutil.which("pdftoppm") if png else None
    written = []
    for recipient in chosen:
        letter, message = composer.build(recipient)
        stem = out / f"{recipient.order:03d}_{Path(letter.attachment_name).stem}"
        files = [stem.with_suffix(".eml"), stem.with_suffix(".pdf")]
        files[0].write_bytes(message.as_bytes(policy=policy.SMTP))
        files[1].write_bytes(letter.pdf)
        if pdftoppm:
            subprocess.run(
                [pdftoppm, "-png", "-r", "80", "-singlefile", "-f", "1", "-l", "1", str(files[1]), str(stem)],
                check=True,
                capture_output=True,
            )
            files.append(stem.with_suffix(".png"))
        for path in files:
            if on_written:
                on_written(path)
        written += files
    return written
