"""`export`: the status list as a file for people (CSV, XLSX) or programs (JSON).

The rows are those of `tracking.status`, with each invitee's CC and phone as the ledger recorded them (the
recipients file's for those not sent to yet) and the times of their invitation's send and of the last event
from the ledger: an export needs no recipients file once the invitations went out. What people read (headers, the
labels of state and answer codes) comes from the caller as `Labels`: this module prints nothing and
translates nothing; `outputs.save` writes the files.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from . import tracking
from .campaign import load_campaign
from .errors import MailmergeError
from .i18n import _
from .ledger import INVITATION, SENT, Ledger
from .ledger.schema import BOUNCED
from .recipients import Reading

CSV, XLSX, JSON = "csv", "xlsx", "json"
FORMATS = (CSV, XLSX, JSON)
# The columns, in order: the keys of the JSON rows and what `Labels.headers` names.
COLUMNS = (
    "order",
    "group",
    "organisation",
    "position",
    "salutation",
    "name",
    "email",
    "cc",
    "phone",
    "state",
    "sent_at",
    "smtp_reply",
    "bounce",
    "replied_at",
    "answer",
    "delegate",
    "reminders",
    "last_event_at",
    "reply_excerpt",
)
TIMES = ("sent_at", "replied_at", "last_event_at")
CODES = ("state", "answer")  # shown with their labels in CSV and XLSX, as codes in JSON
EVENT_COLUMNS = ("at", "recipient_id", "kind", "state", "code", "reply", "address", "detail")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Labels:
    """What people read, in the language of the file: headers, sheet names and the labels of codes."""

    headers: dict[str, str]  # column key (COLUMNS) -> header
    code: Callable[[str, str], str]  # (what: "state", "answer", "kind"), code -> label
    sheets: tuple[str, str, str]  # recipients, totals, events
    totals: dict[str, str]  # "group", "recipients", "total" -> header or row name
    events: dict[str, str]  # event column key (EVENT_COLUMNS) -> header


@dataclass
class Export:
    """The rows to write, in protocol order, and the ledger's events about them, oldest first."""

    campaign: str
    generated_at: datetime
    rows: list[dict[str, Any]]
    events: list[dict[str, Any]]
    status: tracking.StatusReport  # what `status` says of everyone: its totals are the export's


def collect(
    folder: Path, *, ledger_file: Path | None = None, states: Iterable[str] = (), groups: Iterable[str] = ()
) -> Export:
    """Everyone `status` knows, limited to `states` and `groups` (when given)."""
    report = tracking.status(folder, ledger_file=ledger_file, states=states)
    rows = [row for row in report.listed_rows if not groups or row["group"] in groups]
    check_groups(groups, report.rows)
    campaign = load_campaign(folder)
    path = ledger_file or campaign.ledger_file
    events, contacts = ledger_records(path, campaign.slug) if path.exists() else ([], {})
    contacts = recipient_contacts(report.recipients_file) | contacts  # the ledger's as sent, else the file's
    wanted = {row["id"] for row in rows}
    events = [event for event in events if event["recipient_id"] in wanted]
    by_recipient: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_recipient.setdefault(event["recipient_id"], []).append(event)
    exported = [export_row(row, contacts.get(row["id"], {}), by_recipient.get(row["id"], [])) for row in rows]
    return Export(report.campaign, report.generated_at, exported, events, report)


def check_groups(groups: Iterable[str], rows: list[dict]) -> None:
    known = list(dict.fromkeys(row["group"] for row in rows))
    unknown = [group for group in groups if group not in known]
    if unknown:
        # TRANSLATORS: {wrong} are the groups typed after `--group`; {groups} the groups of the recipients file
        message = _("no group {wrong}; groups: {groups}")
        raise MailmergeError(message.format(wrong=", ".join(unknown), groups=", ".join(known)))


def ledger_records(path: Path, campaign: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The campaign's events, and each recipient's CC and phone as the ledger recorded them."""
    ledger = Ledger(path, read_only=True)
    try:
        contacts = {
            recipient: {"cc": list(data.get("cc") or []), "phone": str(data.get("phone") or "")}
            for recipient, data in ledger.recipient_data(campaign).items()
        }
        return ledger.events(campaign), contacts
    finally:
        ledger.close()


def recipient_contacts(reading: Reading | None) -> dict[str, dict[str, Any]]:
    """recipient ID -> CC addresses and phone, from the recipients file as `status` read it (if it could)."""
    if reading is None:
        return {}
    contacts: dict[str, dict[str, Any]] = {}
    for rejected in reading.rejected:
        values = rejected.values
        cc = [part.strip() for part in values.get("cc", "").replace(",", ";").split(";") if part.strip()]
        contacts[values.get("order", "")] = {"cc": cc, "phone": values.get("phone", "")}
    for recipient in reading.recipients:
        contacts[recipient.id] = {"cc": list(recipient.cc), "phone": recipient.phone}
    return contacts


def export_row(row: dict, contact: dict[str, Any], own: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of the export: `row` of the status and `own` events, with times as local aware datetimes."""
    sent = [e["at"] for e in own if e["kind"] == INVITATION and e["state"] == SENT]
    replied_at = moment(row["answered_at"])
    moments = [t for t in (*(moment(e["at"]) for e in own), replied_at) if t is not None]
    return {
        "order": int(row["id"]) if row["id"].isdigit() else row["id"],
        "group": row["group"],
        "organisation": row["organisation"],
        "position": row["position"],
        "salutation": row["salutation"],
        "name": row["name"],
        "email": row["email"],
        "cc": contact.get("cc", []),
        "phone": contact.get("phone", ""),
        "state": BOUNCED if row["delivery"] == BOUNCED else row["state"],
        "delivery": row["delivery"],
        "sent_at": moment(sent[-1]) if sent else None,
        "smtp_reply": smtp_reply(row),
        "bounce": row["bounce"],
        "replied_at": replied_at,
        "answer": row["answer"],
        "delegate": row["delegate"],
        "reminders": row["reminders"],
        "last_event_at": max(moments) if moments else None,
        "reply_excerpt": row["answer_excerpt"],
    }


def smtp_reply(row: dict) -> str | None:
    """The server's last reply ("250 2.0.0 Ok"), or what is wrong with the recipient's row."""
    if row["problem"]:
        return row["problem"]
    if row["smtp_code"]:
        return f"{row['smtp_code']} {row['smtp_reply'] or ''}".strip()
    return row["smtp_reply"]


def moment(iso: str | None) -> datetime | None:
    """An ISO 8601 time of the ledger (UTC) as a local time; None if there is none or it cannot be read."""
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return None


# --- writers --------------------------------------------------------------------------------------


def to_json(export: Export) -> bytes:
    """The documented JSON shape: stable English keys, codes, ISO 8601 local times with their offset."""
    rows = [{key: json_value(value) for key, value in row.items()} for row in export.rows]
    document = {
        "campaign": export.campaign,
        "generated_at": export.generated_at.isoformat(timespec="seconds"),
        "recipients": rows,
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def json_value(value: Any) -> Any:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value


def cell_text(key: str, value: Any, labels: Labels) -> str:
    """A value as text for a table: codes labelled, times local, CC addresses joined."""
    if value is None:
        return ""
    if key in CODES:
        return labels.code(key, value)
    if isinstance(value, datetime):
        return value.strftime(TIME_FORMAT)
    if isinstance(value, list):
        return "; ".join(value)
    return str(value)


def neutralised(text: str) -> str:
    """A field a spreadsheet would read as a formula (=, +, -, @, tab, CR first) starts with ' instead."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(export: Export, labels: Labels) -> bytes:
    """UTF-8 with a BOM (Excel reads it as such), CRLF line ends, no field read as a formula."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralised(labels.headers[key]) for key in COLUMNS])
    for row in export.rows:
        writer.writerow([neutralised(cell_text(key, row[key], labels)) for key in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def totals(export: Export) -> tuple[list[str], list[str], dict[str, Counter[str]]]:
    """The state codes and answer codes present, and per group (protocol order) the count of each."""
    states = sorted({row["state"] for row in export.rows})
    answers = sorted({row["answer"] for row in export.rows if row["answer"]})
    groups: dict[str, Counter[str]] = {}
    for row in export.rows:
        counts = groups.setdefault(row["group"], Counter())
        counts.update([f"state:{row['state']}", "recipients"] + ([f"answer:{row['answer']}"] if row["answer"] else []))
    return states, answers, groups


def to_xlsx(export: Export, labels: Labels) -> bytes:
    """Three sheets: the recipients, the totals by group, the ledger's events. Written by openpyxl in its
    streaming (write-only) mode, several times faster than building the workbook in memory; openpyxl is
    imported here only: the other formats do not need it."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    header = [labels.headers[key] for key in COLUMNS]
    rows = [[xlsx_value(key, row[key], labels) for key in COLUMNS] for row in export.rows]
    fill_sheet(book.create_sheet(labels.sheets[0]), header, rows, text_columns={COLUMNS.index("phone")})
    fill_sheet(book.create_sheet(labels.sheets[1]), *totals_table(export, labels))
    event_header = [labels.events[key] for key in EVENT_COLUMNS]
    fill_sheet(book.create_sheet(labels.sheets[2]), event_header, [event_cells(e, labels) for e in export.events])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx_value(key: str, value: Any, labels: Labels) -> Any:
    """A cell's value: a number stays a number, a time is a naive local datetime (Excel has no time zones)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, int) and key in ("order", "reminders"):
        return value
    return cell_text(key, value, labels) or None


def totals_table(export: Export, labels: Labels) -> tuple[list[str], list[list[Any]]]:
    """Per group: recipients, then the count of each state and of each answer; a last row for everyone."""
    states, answers, groups = totals(export)
    keys = ["recipients", *(f"state:{s}" for s in states), *(f"answer:{a}" for a in answers)]
    header = [
        labels.totals["group"],
        labels.totals["recipients"],
        *(labels.code("state", s) for s in states),
        *(labels.code("answer", a) for a in answers),
    ]
    rows: list[list[Any]] = [[group, *(counts.get(key, 0) for key in keys)] for group, counts in groups.items()]
    everyone = sum(groups.values(), Counter())
    rows.append([labels.totals["total"], *(everyone.get(key, 0) for key in keys)])
    return header, rows


def event_cells(event: dict[str, Any], labels: Labels) -> list[Any]:
    at = moment(event["at"])
    return [
        at.replace(tzinfo=None) if at else event["at"],
        int(event["recipient_id"]) if str(event["recipient_id"]).isdigit() else event["recipient_id"],
        labels.code("kind", event["kind"]),
        labels.code("state", event["state"]),
        event["code"],
        event["reply"],
        event["address"],
        event["detail"],
    ]


def fill_sheet(sheet: Any, header: list[str], rows: list[list[Any]], text_columns: set[int] = frozenset()) -> None:
    """A bold, frozen header row with a filter, columns that fit, then the rows: text stays text (never a
    formula, whatever it starts with), times are date-time cells, `text_columns` (0-based) are formatted
    as text so that a phone number keeps its leading zero when edited. A write-only sheet takes its
    layout before its first row."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    widths = [display_width(name) for name in header]
    for values in rows:
        for index, value in enumerate(values):
            widths[index] = max(widths[index], display_width(value))
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 6), 60)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(rows) + 1}"

    def styled(value: Any, **style: Any) -> Any:
        written = WriteOnlyCell(sheet, value=value)
        for name, setting in style.items():
            setattr(written, name, setting)
        return written

    bold = Font(bold=True)
    sheet.append([styled(name, font=bold) for name in header])

    def cell(index: int, value: Any) -> Any:
        if isinstance(value, datetime):
            return styled(value, number_format="yyyy-mm-dd hh:mm:ss")
        if index in text_columns and value is not None:
            return styled(value, number_format="@", data_type="s")
        if isinstance(value, str) and value.startswith("="):
            return styled(value, data_type="s")  # openpyxl takes "=…" for a formula
        return value

    for values in rows:
        sheet.append([cell(index, value) for index, value in enumerate(values)])


def display_width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return len(TIME_FORMAT) + 2
    return max(len(line) for line in str(value).splitlines() or [""])
