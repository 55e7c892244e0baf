"""`check` and `preview`: everything a send would do, short of sending. Never prints or prompts: the CLI
shows progress through the callbacks given here."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from statistics import median

from .errors import Problem
from .i18n import _, ngettext
from .merge import Composer, load, select
from .models import Campaign, Recipient

PREFERRED_FONTS = ("TimesNewRoman", "Times New Roman", "Tinos", "LiberationSerif", "Liberation Serif")
NOTICE_WORKING_DAYS = 3  # Decision 45/2018/QĐ-TTg: invitations at least 3 working days ahead


@dataclass
class CheckReport:
    recipients: list[Recipient]
    groups: Counter[str]
    notes: list[Problem] = field(default_factory=list)
    fonts: dict[str, bool] = field(default_factory=dict)
    render_seconds: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    from_cache: int = 0  # letters not laid out again: nothing they are made of had changed
    pruned: int = 0  # cached letters no letter uses any more, removed
    attachments: tuple[Path, ...] = ()  # the files every email carries besides the letter

    @property
    def median_render_ms(self) -> float:
        return median(self.render_seconds) * 1000 if self.render_seconds else 0.0


def check(
    folder: Path, *, today: date | None = None, on_rendered: Callable[[Recipient], None] | None = None
) -> CheckReport:
    """Load and render everything (PDFs included) without sending; raise on the first real problem."""
    from .render import embedded_fonts  # pypdf, with WeasyPrint: only `check` needs them

    loaded = load(folder)
    composer = Composer(loaded.campaign)
    # TRANSLATORS: in the table of groups that `mailmerge check` shows, for recipients without a group.
    no_group = _("(no group)")
    report = CheckReport(loaded.recipients, Counter(r.group or no_group for r in loaded.recipients), loaded.notes)
    report.attachments = loaded.campaign.attachments
    for recipient in loaded.recipients:
        started = time.perf_counter()
        letter, _message = composer.build(recipient)
        report.render_seconds.append(time.perf_counter() - started)
        composer.renderer.render(recipient, with_pdf=False, reminder=1)  # the reminder's templates too
        if letter.pdf is not None:
            report.fonts |= embedded_fonts(letter.pdf)
        if on_rendered:
            on_rendered(recipient)
    renderer = composer.renderer
    report.from_cache = (len(loaded.recipients) if loaded.campaign.attach_pdf else 0) - renderer.laid_out
    report.pruned = renderer.cache.prune()  # check lays out every letter: what it did not use is stale
    report.warnings = [
        *renderer.warnings,
        *renderer.unused_keys(),
        *campaign_warnings(loaded.campaign, report.fonts, today or date.today()),
    ]
    return report


def campaign_warnings(campaign: Campaign, fonts: dict[str, bool], today: date) -> list[str]:
    warnings = []
    not_embedded = sorted(name for name, embedded in fonts.items() if not embedded)
    if not_embedded:
        # TRANSLATORS: {fonts} is a list of font names separated by commas, e.g. "DejaVuSans, Arial".
        warnings.append(_("fonts not embedded in the PDF: {fonts}").format(fonts=", ".join(not_embedded)))
    if fonts and not any(name.startswith(PREFERRED_FONTS) for name in fonts):
        # TRANSLATORS: {fonts} is a list of font names; fonts-croscore and fonts-liberation2 are package names.
        message = _(
            "no Times-metric font was found, the letter uses {fonts}; "
            "install fonts-croscore (Tinos) or fonts-liberation2"
        )
        warnings.append(message.format(fonts=", ".join(sorted(fonts))))
    event_day = campaign.event_starts_at.date()
    if event_day < today:
        # TRANSLATORS: {date} is the day of the event, dd/mm/yyyy.
        warnings.append(_("the event ({date}) is in the past").format(date=f"{event_day:%d/%m/%Y}"))
    elif working_days_between(today, event_day) < NOTICE_WORKING_DAYS:
        # TRANSLATORS: {count} is the notice the rules ask for (3); {date} is the day of the event, dd/mm/yyyy.
        message = ngettext(
            "less than {count} working day before the event ({date}): "
            "invitations should arrive at least {count} working day ahead",
            "less than {count} working days before the event ({date}): "
            "invitations should arrive at least {count} working days ahead",
            NOTICE_WORKING_DAYS,
        )
        warnings.append(message.format(count=NOTICE_WORKING_DAYS, date=f"{event_day:%d/%m/%Y}"))
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
    with_pdf: bool = True,
    on_written: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write `.eml` + `.pdf` (and a PNG of page 1 when pdftoppm exists) for the chosen recipients; without
    `with_pdf`, the emails as `send --no-pdf` sends them."""
    loaded = load(folder)
    chosen = select(loaded.recipients, wanted)
    campaign = loaded.campaign if with_pdf else dataclasses.replace(loaded.campaign, attach_pdf=False)
    composer = Composer(campaign)
    out.mkdir(parents=True, exist_ok=True)
    pdftoppm = shutil.which("pdftoppm") if png else None
    written = []
    for recipient in chosen:
        letter, message = composer.build(recipient)
        stem = out / f"{recipient.order:03d}_{Path(letter.attachment_name).stem}"
        files = [stem.with_suffix(".eml")]
        files[0].write_bytes(message)
        if letter.pdf is not None:
            files.append(stem.with_suffix(".pdf"))
            files[1].write_bytes(letter.pdf)
        if pdftoppm and letter.pdf is not None:
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
