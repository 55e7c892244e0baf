"""`report`: where the invitations stand, as a printable A4 PDF for the organisers' leaders and the
reception desk.

Its numbers and lists come from the ledger alone, through `export.collect`: the rows and totals that
`status` and `export` give, so the three agree to the last number. It says, in order: the totals, a chart
of the answers per group, the sign-in sheet of those who will come (the reception desk's "Danh sách đại
biểu"), who has not answered (with a phone number, to be called), and whose invitation did not reach them
(with the reason in plain words). The wording is in the language in use when it is built; the state and
answer labels come from the caller as `export.Labels`; the layout is layouts/report.html and report.css,
in the letters' typography: the same serif fonts, the page size and margins of the campaign's [page].
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from . import export as exporting
from .bounce_reasons import plain_reason
from .campaign import load_campaign
from .chart import Bar, bar_chart
from .i18n import _, current_language, pgettext
from .ledger import DEFERRED, FAILED, QUEUED, SENT, UNKNOWN
from .ledger.schema import ATTENDING, AUTO_REPLY, BOUNCED, DECLINED, DELAYED, DELEGATE, INVALID, NEW, UNCLEAR
from .models import Campaign
from .templating import doc_number
from .vntext import vn_date, vn_time, vn_weekday

LAYOUTS = Path(__file__).parent / "layouts"
AWAITING, NOT_REACHED = "awaiting", "not-reached"  # the chart's own categories, beside the three answers
CATEGORIES = (ATTENDING, DELEGATE, DECLINED, NOT_REACHED, AWAITING)  # the chart's series, in the bars' order
COMING = (ATTENDING, DELEGATE)


def category(row: dict[str, Any]) -> str:
    """Where one invitee stands for the report: an answer that counts, still awaited, or not reached."""
    if row["answer"] in (ATTENDING, DELEGATE, DECLINED):
        return row["answer"]
    if row["state"] in (SENT, UNKNOWN) and row["delivery"] != BOUNCED:
        return AWAITING
    return NOT_REACHED


@dataclass
class GroupCounts:
    """One line of the totals table: a group, or everyone."""

    name: str
    invited: int = 0
    sent: int = 0
    bounced: int = 0
    answers: Counter[str] = field(default_factory=Counter)  # by category

    def add(self, row: dict[str, Any]) -> None:
        self.invited += 1
        self.sent += row["state"] in (SENT, BOUNCED)
        self.bounced += row["delivery"] == BOUNCED
        self.answers[category(row)] += 1

    def cells(self) -> list[int]:
        return [self.invited, self.sent, self.bounced, *(self.answers[c] for c in (*COMING, DECLINED, AWAITING))]


@dataclass(frozen=True)
class Listed:
    """One person in one of the report's lists."""

    number: str  # their number in the protocol order (STT), or in the sign-in sheet
    name: str
    detail: str  # position, organisation
    note: str = ""
    phone: str = ""
    email: str = ""
    reminders: int = 0
    group: str = ""


def build_html(folder: Path, labels: exporting.Labels, *, ledger_file: Path | None = None) -> tuple[str, Campaign]:
    """The report as HTML for WeasyPrint, and the campaign it is about (for its page settings)."""
    import jinja2

    campaign = load_campaign(folder)
    data = exporting.collect(folder, ledger_file=ledger_file)
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(LAYOUTS), autoescape=True, trim_blocks=True)
    context = report_context(campaign, data, labels)
    return environment.get_template("report.html").render(context), campaign


def report_context(campaign: Campaign, data: exporting.Export, labels: exporting.Labels) -> dict[str, Any]:
    rows = data.rows
    groups: dict[str, GroupCounts] = {}
    for row in rows:
        groups.setdefault(row["group"], GroupCounts(row["group"])).add(row)
    everyone = GroupCounts(labels.totals["total"])
    for row in rows:
        everyone.add(row)
    series = [category_label(code, labels) for code in CATEGORIES]
    bars = [Bar(group.name, tuple(group.answers[c] for c in CATEGORIES)) for group in groups.values()]
    return {
        "lang": current_language(),
        "letter": campaign.template_data.get("letter", {}),
        "place_date": place_date(campaign, data.generated_at.date()),
        "title": title_lines(campaign),
        "as_of": as_of(data.generated_at),
        "summary": summary(data, everyone),
        "groups": list(groups.values()),
        "everyone": everyone,
        "columns": group_columns(labels),
        "chart": bar_chart(series, bars) if rows else "",
        "signing": signing_sheet(rows),
        "awaiting": [awaited(row, labels) for row in rows if category(row) == AWAITING],
        "not_reached": [not_reached(row, labels) for row in rows if category(row) == NOT_REACHED],
        "t": texts(),
        "author": campaign.sender.name,
    }


def category_label(code: str, labels: exporting.Labels) -> str:
    if code == AWAITING:
        # TRANSLATORS: in the report's chart and tables: invited, the invitation went out, no answer yet
        return pgettext("report", "no answer yet")
    if code == NOT_REACHED:
        # TRANSLATORS: in the report's chart: the invitation bounced, failed or was never sent
        return pgettext("report", "not reached")
    return labels.code("answer", code)


def group_columns(labels: exporting.Labels) -> list[str]:
    return [
        labels.totals["group"],
        # TRANSLATORS: the headers of the report's totals table (this one and the two below): how many were
        # invited, how many invitations the server accepted, how many of them bounced
        pgettext("report", "Invited"),
        pgettext("report", "Sent"),
        pgettext("report", "Bounced"),
        *(category_label(code, labels) for code in (*COMING, DECLINED, AWAITING)),
    ]


def place_date(campaign: Campaign, day: date) -> str:
    """ "Quận 5, ngày 28 tháng 11 năm 2026": the report's place and date, as the letter's."""
    place = campaign.template_data.get("document", {}).get("place", "")
    when = vn_date(day) if current_language() == "vi" else f"{day.day} {day:%B %Y}"
    return f"{place}, {when}" if place else when


def title_lines(campaign: Campaign) -> dict[str, str]:
    event, document = campaign.template_data.get("event", {}), campaign.template_data.get("document", {})
    starts = campaign.event_starts_at
    if current_language() == "vi":
        when = f"{vn_time(starts)}, {vn_weekday(starts.date())}, {vn_date(starts.date())}"
    else:
        when = f"{starts:%H:%M, %A} {starts.day} {starts:%B %Y}"
    number = f"{doc_number(campaign.document_number)}/{campaign.document_symbol}"
    issued = document.get("date")
    return {
        "event": event.get("title", ""),
        # TRANSLATORS: under the report's title: {when} is the event's time, {place} where it is held
        "when": _("Time: {when}").format(when=when),
        "place": _("Place: {place}").format(place=event.get("place", "")),
        # TRANSLATORS: {number} is the invitation's document number, "58/GM-MTTQ-BTT"; {date} its date
        "document": _("Invitation no. {number} of {date}").format(
            number=number, date=f"{issued:%d/%m/%Y}" if isinstance(issued, date) else ""
        ),
    }


def as_of(moment: datetime) -> str:
    # TRANSLATORS: under the report's title: the time its figures were taken from the ledger
    return _("Figures as of {time} on {date}").format(time=f"{moment:%H:%M}", date=f"{moment:%d/%m/%Y}")


def summary(data: exporting.Export, everyone: GroupCounts) -> list[tuple[str, int, bool]]:
    """(what, how many, whether it is a part of the line before) for the totals: those of `status`. A line
    about something that can go wrong is left out when it did not happen."""
    report = data.status
    states, answers = report.by_state, report.by_answer
    not_sent = sum(states[s] for s in (QUEUED, DEFERRED, NEW, INVALID))
    lines = [
        # TRANSLATORS: the lines of the report's totals (this one and those below)
        (pgettext("report", "Invited"), len(report.rows), False, True),
        (pgettext("report", "Invitations accepted by the mail server"), states[SENT], False, True),
        (pgettext("report", "of which bounced"), report.by_delivery[BOUNCED], True, False),
        (pgettext("report", "of which delayed"), report.by_delivery[DELAYED], True, False),
        (pgettext("report", "Refused by the mail server"), states[FAILED], False, False),
        (pgettext("report", "In doubt (sending interrupted)"), states[UNKNOWN], False, False),
        (pgettext("report", "Not sent yet"), not_sent, False, False),
        (pgettext("report", "Attending"), answers[ATTENDING], False, True),
        (pgettext("report", "Sending a delegate"), answers[DELEGATE], False, True),
        (pgettext("report", "Declined"), answers[DECLINED], False, True),
        (pgettext("report", "Answer unclear"), answers[UNCLEAR], False, False),
        (pgettext("report", "No answer yet (auto-replies included)"), everyone.answers[AWAITING], False, True),
        (pgettext("report", "Reminders sent"), report.reminders_sent, False, False),
        (pgettext("report", "Expected at the event"), answers[ATTENDING] + answers[DELEGATE], False, True),
    ]
    return [(what, count, part) for what, count, part, always in lines if always or count]


def signing_sheet(rows: Iterable[dict[str, Any]]) -> list[Listed]:
    """Those who will come, in protocol order, numbered for the sign-in sheet: a delegate in the place of
    the invitee, with whom they stand in for."""
    sheet = []
    for row in rows:
        if row["answer"] not in COMING:
            continue
        name, note = row["name"], ""
        if row["answer"] == DELEGATE:
            name = row["delegate"] or "…"
            # TRANSLATORS: in the sign-in sheet, under a delegate's name: {salutation} {name} is the invitee
            note = _("in place of {salutation} {name}").format(salutation=row["salutation"], name=row["name"])
        sheet.append(Listed(str(len(sheet) + 1), name, detail(row), note=note, group=row["group"]))
    return sheet


def detail(row: dict[str, Any]) -> str:
    return ", ".join(part for part in (row["position"], row["organisation"]) if part)


def awaited(row: dict[str, Any], labels: exporting.Labels) -> Listed:
    """Someone to call: what came back so far, if anything, and how often they were reminded."""
    notes = []
    if row["answer"] == AUTO_REPLY:
        notes.append(labels.code("answer", AUTO_REPLY))
    elif row["answer"] == UNCLEAR:
        excerpt = f": “{row['reply_excerpt']}”" if row["reply_excerpt"] else ""
        notes.append(labels.code("answer", UNCLEAR) + excerpt)
    if row["delivery"] == DELAYED:
        # TRANSLATORS: in the report's list of those without an answer: the mail system said delivery is late
        notes.append(_("delivery delayed: {reason}").format(reason=plain_reason(row["bounce"])))
    if row["state"] == UNKNOWN:
        # TRANSLATORS: in the report's list of those without an answer: the send was interrupted, not known
        # whether the invitation went out (see `mailmerge resend --unknown`)
        notes.append(_("in doubt whether it was sent"))
    return Listed(
        str(row["order"]),
        row["name"],
        detail(row),
        note="; ".join(notes),
        phone=row["phone"],
        email=row["email"],
        reminders=row["reminders"],
    )


def not_reached(row: dict[str, Any], labels: exporting.Labels) -> Listed:
    """Someone whose invitation did not reach them, and why, in plain words and as the server said it."""
    if row["delivery"] == BOUNCED:
        note = f"{plain_reason(row['bounce'])} ({row['bounce']})" if row["bounce"] else plain_reason(None)
    elif row["state"] == FAILED:
        note = f"{plain_reason(row['smtp_reply'])} ({row['smtp_reply']})"
    elif row["state"] == INVALID:
        note = row["smtp_reply"] or labels.code("state", INVALID)
    else:
        # TRANSLATORS: in the report's list of invitations that did not reach anyone: {state} is "new",
        # "queued" or "deferred"
        note = _("not sent yet ({state})").format(state=labels.code("state", row["state"]))
    return Listed(str(row["order"]), row["name"], detail(row), note=note, phone=row["phone"], email=row["email"])


def texts() -> dict[str, str]:
    """The report's headings and the headers of its tables."""
    return {
        # TRANSLATORS: the report's title, in capitals as Decree 30 writes a document's name
        "title": pgettext("report", "REPORT"),
        "subtitle": pgettext("report", "on the invitations sent and the answers received"),
        # TRANSLATORS: the report's section headings (this one and the four below), numbered I. to V.
        "totals": pgettext("report", "Totals"),
        "chart": pgettext("report", "Answers by group"),
        "signing": pgettext("report", "List of delegates"),
        "awaiting": pgettext("report", "No answer yet: to be called"),
        "not_reached": pgettext("report", "Invitations that did not reach the invitee"),
        # TRANSLATORS: the title of the sign-in sheet, in capitals: the reception desk's list of those coming
        "signing_title": pgettext("report", "LIST OF DELEGATES"),
        # TRANSLATORS: the headers of the report's lists (this one and those below); "No." is the number
        "number": pgettext("report", "No."),
        "name": pgettext("report", "Full name"),
        "detail": pgettext("report", "Position, organisation"),
        "signature": pgettext("report", "Signature"),
        "phone": pgettext("report", "Phone"),
        "email": pgettext("report", "Email"),
        "reminders": pgettext("report", "Reminders"),
        "note": pgettext("report", "Note"),
        "reason": pgettext("report", "Reason"),
        # TRANSLATORS: in the report, a list with nobody in it
        "nobody": pgettext("report", "Nobody."),
        # TRANSLATORS: at the end of the report: who made it and from what
        "made_by": pgettext("report", "Made by mailmerge from the campaign's ledger."),
    }


def to_pdf(html: str, campaign: Campaign) -> tuple[bytes, int]:
    """The report laid out by WeasyPrint on the campaign's page (size and margins), and its page count."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from .render import JailedFetcher, page_rule

    fonts = FontConfiguration()
    fetcher = JailedFetcher(LAYOUTS)
    stylesheets = [
        CSS(string=page_rule(campaign.page), font_config=fonts),
        CSS(filename=LAYOUTS / "report.css", url_fetcher=fetcher, font_config=fonts),
    ]
    document = HTML(string=html, base_url=LAYOUTS.as_uri() + "/", url_fetcher=fetcher)
    rendered = document.render(stylesheets=stylesheets, font_config=fonts)
    return rendered.write_pdf(), len(rendered.pages)
