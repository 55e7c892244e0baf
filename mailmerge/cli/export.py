"""`mailmerge export`: the status list as a CSV or XLSX file for people, or JSON for programs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..campaign import load_campaign
from ..errors import MailmergeError
from ..i18n import _, current_language, ngettext, pgettext, use_language
from ..ledger.schema import COPIED, INVITATION, NOT_COPIED, REFUSED, reminder_number
from ..vntext import name_key
from .app import CampaignOption, LedgerOption, app, out, reporting
from .labels import answer_label, state_labels

if TYPE_CHECKING:  # the ledger (SQLite) and the writers: loaded when the command runs
    from .. import export as exporting

FORCE_HELP = _("Replace the file even if mailmerge did not write it or it was changed since.")


class Format(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


class Order(StrEnum):
    order = "order"
    name = "name"


class Language(StrEnum):
    vi = "vi"
    en = "en"


@app.command(help=_("The status list as a file: CSV or XLSX for people, JSON for programs."))
def export(
    campaign: CampaignOption = Path("."),
    ledger: LedgerOption = None,
    file_format: Annotated[
        Format | None,
        typer.Option(
            "--format",
            "-f",
            help=_("csv, xlsx or json; by default from the extension of -o, else csv."),
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", dir_okay=False, metavar="FILE", help=_("Write to this file (without it: to the screen).")
        ),
    ] = None,
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            metavar="STATE",
            # TRANSLATORS: STATE is a state code as typed: queued, sent, deferred, failed, unknown, new, invalid
            help=_("Only recipients in this state (repeat for more)."),
        ),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", metavar="GROUP", help=_("Only recipients of this group (repeat for more).")),
    ] = None,
    lang: Annotated[
        Language, typer.Option("--lang", help=_("Language of the headers and labels in the file."))
    ] = Language.vi,
    sort: Annotated[
        Order,
        typer.Option(
            "--sort",
            # TRANSLATORS: "order" and "name" are typed as they are
            help=_(
                "order: protocol order (STT); name: by given name, then middle and family name, in Vietnamese order."
            ),
        ),
    ] = Order.order,
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
) -> None:
    from .. import export as exporting
    from .. import outputs

    with reporting():
        chosen = chosen_format(file_format, output)
        data = exporting.collect(campaign, ledger_file=ledger, states=state or (), groups=group or ())
        if sort == Order.name:
            data.rows.sort(key=lambda row: name_key(row["name"]))
        with language(lang.value):
            content = render(data, chosen)
        if output is None:
            typer.echo(content, nl=False)
            return
        outputs.save(output, content, ledger_file=ledger or load_campaign(campaign).ledger_file, force=force)
    count = len(data.rows)
    # TRANSLATORS: after `mailmerge export -o FILE`; {path} is the file
    message = ngettext("{count} recipient written to {path}.", "{count} recipients written to {path}.", count)
    out.print(message.format(count=count, path=output))


def chosen_format(given: Format | None, output: Path | None) -> str:
    """--format, else the extension of -o, else CSV; XLSX only into a file."""
    if given is not None:
        chosen = given.value
    elif output is not None:
        chosen = output.suffix.lower().lstrip(".")
        if chosen not in {known.value for known in Format}:
            # TRANSLATORS: {path} is the file given to -o; csv, xlsx and json are typed as they are
            message = _("cannot tell the format of {path} from its extension: add `--format csv`, `xlsx` or `json`")
            raise MailmergeError(message.format(path=output))
    else:
        chosen = Format.csv.value
    if chosen == Format.xlsx and output is None:
        raise MailmergeError(_("an XLSX file cannot go to the screen: add `-o FILE.xlsx`"))
    return chosen


def render(data: exporting.Export, chosen: str) -> bytes:
    from .. import export as exporting

    if chosen == exporting.JSON:
        return exporting.to_json(data)
    if chosen == exporting.XLSX:
        return exporting.to_xlsx(data, labels())
    return exporting.to_csv(data, labels())


@contextmanager
def language(code: str) -> Iterator[None]:
    """The file's language for a while, then the interface's again."""
    before, variable = current_language(), os.environ.get("LANGUAGE")
    if code == before:
        yield
        return
    use_language(code)
    try:
        yield
    finally:
        use_language(before)
        if variable is None:
            os.environ.pop("LANGUAGE", None)
        else:
            os.environ["LANGUAGE"] = variable


def labels() -> exporting.Labels:
    """The headers and labels in the current language (the file's)."""
    from .. import export as exporting

    return exporting.Labels(headers(), code_label, sheet_names(), totals_names(), event_headers())


def headers() -> dict[str, str]:
    return {
        # TRANSLATORS: the headers of the columns of `mailmerge export` (this one and those below); use the
        # words of docs/glossary.md. "No." is the recipient's number in the protocol order.
        "order": pgettext("column", "No."),
        "group": pgettext("column", "Group"),
        "organisation": pgettext("column", "Organisation"),
        "position": pgettext("column", "Position"),
        # TRANSLATORS: how the letter addresses the invitee: Đồng chí, Ông, Bà
        "salutation": pgettext("column", "Form of address"),
        "name": pgettext("column", "Name"),
        "email": pgettext("column", "Email"),
        "cc": pgettext("column", "CC"),
        "phone": pgettext("column", "Phone"),
        "state": pgettext("column", "State"),
        "sent_at": pgettext("column", "Sent at"),
        "smtp_reply": pgettext("column", "SMTP reply / problem"),
        "bounce": pgettext("column", "Bounce reason"),
        "replied_at": pgettext("column", "Replied at"),
        "answer": pgettext("column", "Answer"),
        "delegate": pgettext("column", "Delegate"),
        "reminders": pgettext("column", "Reminders sent"),
        # TRANSLATORS: the time of the latest thing that happened to an invitation: sent, reminded, answered
        "last_event_at": pgettext("column", "Last event"),
        "reply_excerpt": pgettext("column", "Reply excerpt"),
    }


def sheet_names() -> tuple[str, str, str]:
    # TRANSLATORS: the names of the three sheets of the XLSX file of `mailmerge export` (at most 31 letters)
    return pgettext("sheet", "Recipients"), pgettext("sheet", "Totals"), pgettext("sheet", "Events")


def totals_names() -> dict[str, str]:
    return {
        "group": pgettext("column", "Group"),
        # TRANSLATORS: the header of the column of the totals sheet that counts each group's recipients
        "recipients": pgettext("column", "Recipients"),
        # TRANSLATORS: the name of the last row of the totals sheet, which counts everyone
        "total": pgettext("column", "Total"),
    }


def event_headers() -> dict[str, str]:
    return {
        # TRANSLATORS: the headers of the events sheet of `mailmerge export` (this one and those below)
        "at": pgettext("column", "Time"),
        "recipient_id": pgettext("column", "No."),
        # TRANSLATORS: which message an event is about: the invitation or a reminder
        "kind": pgettext("column", "Message"),
        "state": pgettext("column", "State"),
        # TRANSLATORS: the SMTP code of the server's reply (250, 550 …)
        "code": pgettext("column", "Code"),
        "reply": pgettext("column", "Server reply"),
        "address": pgettext("column", "Address"),
        "detail": pgettext("column", "Detail"),
    }


def code_label(what: str, code: str) -> str:
    """What people read for a state, an answer or a kind of message."""
    if what == "answer":
        return answer_label(code)
    if what == "kind":
        return kind_label(code)
    return event_labels().get(code) or state_labels().get(code) or answer_label(code)


def kind_label(kind: str) -> str:
    if kind == INVITATION:
        # TRANSLATORS: the kind of message of an event: the invitation letter itself
        return pgettext("kind", "invitation")
    if (number := reminder_number(kind)) is not None:
        return _("reminder {number}").format(number=number)
    return kind


def event_labels() -> dict[str, str]:
    """Events that are not states: an address refused, a copy in the Sent folder or none."""
    return {
        # TRANSLATORS: events of the ledger in the events sheet of `mailmerge export`: the server refused one
        # address of a message; a copy went into the Sent folder; it could not
        REFUSED: pgettext("event", "address refused"),
        COPIED: pgettext("event", "copied to Sent"),
        NOT_COPIED: pgettext("event", "not copied to Sent"),
    }
