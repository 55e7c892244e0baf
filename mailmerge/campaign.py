"""The campaign folder: `campaign.toml`, the recipients file and the templates.

Everything about the event, the issuing body and the letter lives in `campaign.toml`, never in code.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import attachments
from .errors import CampaignError, InputError, Problem
from .i18n import N_, _
from .models import Campaign, Page, Sender, SendSettings, ServerSettings

if TYPE_CHECKING:
    from . import schema

CAMPAIGN_FILE = "campaign.toml"
TABLE_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
TOML_KEY = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
KEY_LINE = re.compile(rf"^\s*({TOML_KEY}(?:\s*\.\s*{TOML_KEY})*)\s*=")
# What each kind of schema finding means to someone editing the file (pydantic error type -> message).
# Each is shown after “campaign.toml:line [table.key]: ”, the setting being the subject.
MESSAGES = {
    "missing": N_("is required"),
    "string_type": N_("must be text in quotes"),
    "int_type": N_("must be a whole number"),
    "int_parsing": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "float_type": N_("must be a number"),
    # TRANSLATORS: "30", not "30s" or "30 giây".
    "float_parsing": N_("must be a number (of seconds where it is a time), without a unit"),
    # TRANSLATORS: true and false are values typed in campaign.toml; keep them in English.
    "bool_type": N_("must be true or false"),
    # TRANSLATORS: true and false are values typed in campaign.toml; keep them in English.
    "bool_parsing": N_("must be true or false"),
    # TRANSLATORS: ["first", "second"] is an example of a list in campaign.toml; the words may be translated.
    "list_type": N_('must be a list, such as ["first", "second"]'),
    "model_type": N_("must be a table"),
    "model_attributes_type": N_("must be a table"),
    "dict_type": N_("must be a table"),
    "date_type": N_("must be a date"),
    "datetime_type": N_("must be a date and time"),
}

# The bounds of a number setting (pydantic error type -> message), shown like MESSAGES.
BOUNDS = {
    # TRANSLATORS: {bound} is the smallest value a setting of campaign.toml may have.
    "greater_than_equal": N_("must be at least {bound}"),
    # TRANSLATORS: {bound} is a number a setting of campaign.toml must be more than.
    "greater_than": N_("must be more than {bound}"),
    # TRANSLATORS: {bound} is the largest value a setting of campaign.toml may have.
    "less_than_equal": N_("must be at most {bound}"),
    # TRANSLATORS: {bound} is a number a setting of campaign.toml must be less than.
    "less_than": N_("must be less than {bound}"),
}


def seed_folder() -> Path:
    """The seed campaign shipped with the package (inside a wheel) or at the top of a checkout."""
    packaged = Path(__file__).parent / "_campaign"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent


def load_campaign(folder: Path) -> Campaign:
    """Read and check `campaign.toml` in `folder` against the declared schema; raise `InputError` listing
    every problem with its line in the file."""
    path = folder / CAMPAIGN_FILE
    if not path.is_file():
        # TRANSLATORS: {file} is "campaign.toml"; {folder} a folder's path; DIR stands for a folder the user names.
        message = _("no {file} in {path}: run `mailmerge init {folder}` or pass --campaign DIR")
        raise CampaignError(message.format(file=CAMPAIGN_FILE, path=folder.resolve(), folder=folder))
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        # TRANSLATORS: shown after the file's path; {reason} is the English explanation of Python's TOML reader
        # ("Expected '=' after a key in a key/value pair (at line 12, column 7)"), shown untranslated.
        raise InputError([Problem(str(path), _("not valid TOML: {reason}").format(reason=error))]) from None

    from pydantic import ValidationError

    from . import schema

    folder = folder.resolve()
    lines = toml_locations(text)
    problems = typos(data, str(path), lines) + outside_folder(data, folder, str(path), lines)
    problems += attachment_problems(data, folder, str(path), lines)
    try:
        parsed = schema.CampaignFile.model_validate(data)
    except ValidationError as error:
        problems += [schema_problem(finding, str(path), lines) for finding in error.errors()]
    if problems:
        raise InputError(sorted(problems, key=lambda p: p.row or 0))
    custom = {f"{table}.{key}": located((table, key), lines) for table, key in custom_keys(parsed)}
    return build(parsed, folder, custom)


def peek_language(folder: Path) -> str | None:
    """`[campaign] language`, read before anything else (the interface speaks it from the first line);
    None when there is no readable campaign file there."""
    try:
        section = tomllib.loads((folder / CAMPAIGN_FILE).read_text(encoding="utf-8-sig")).get("campaign")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    language = section.get("language") if isinstance(section, dict) else None
    return language if isinstance(language, str) else None


def build(parsed: schema.CampaignFile, folder: Path, custom: dict[str, int | None]) -> Campaign:
    """The plain, typed campaign the rest of the program reads."""
    return Campaign(
        folder=folder,
        slug=parsed.campaign.slug,
        identity=parsed.campaign.id,
        recipients_file=(folder / parsed.campaign.recipients).resolve(),
        templates_dir=(folder / parsed.campaign.templates).resolve(),
        sender=Sender(parsed.sender.name, parsed.sender.email, parsed.sender.reply_to_tokens, parsed.sender.verp),
        smtp=server_settings(parsed.smtp, folder, sender_domain=parsed.sender.email.rpartition("@")[2]),
        imap=server_settings(parsed.imap, folder) if parsed.imap else None,
        imap_folders=tuple(parsed.imap.folders) if parsed.imap else ("INBOX",),
        sent_folder=parsed.imap.sent_folder if parsed.imap else None,
        copy_to_sent=parsed.imap.copy_to_sent if parsed.imap else False,
        send=SendSettings(**parsed.send.model_dump()),
        template_data=parsed.model_dump(exclude={"sender", "smtp", "imap", "send", "reminder"}),
        reminder_prefix=parsed.reminder.subject_prefix,
        event_starts_at=parsed.event.starts_at,
        document_number=parsed.document.number,
        document_symbol=parsed.document.symbol,
        type_name=parsed.letter.type_name,
        attachment_prefix=parsed.campaign.attachment_prefix,
        attach_pdf=parsed.campaign.attach_pdf,
        attachments=tuple((folder / name).resolve() for name in parsed.campaign.attachments),
        encoding=parsed.campaign.encoding,
        page=Page(**parsed.page.model_dump()),
        custom_keys=custom,
    )


def custom_keys(parsed: schema.CampaignFile) -> list[tuple[str, str]]:
    """The keys of the letter's tables that the schema does not declare: for the templates only."""
    from . import schema

    return [(table, key) for table in schema.LETTER_TABLES for key in (getattr(parsed, table).model_extra or {})]


def server_settings(table: schema.ServerTable, folder: Path, **more: Any) -> ServerSettings:
    values = table.model_dump(include=set(ServerSettings.__dataclass_fields__))
    return ServerSettings(**values | {"ca_file": ca_path(table.ca_file, folder)} | more)


def schema_problem(finding: dict[str, Any], file: str, lines: dict[tuple[str, ...], int]) -> Problem:
    """One pydantic finding as the user should read it: `campaign.toml:12 [event.starts_at]: …`."""
    location = tuple(str(part) for part in finding["loc"] if not isinstance(part, int))
    kind = finding["type"]
    if kind == "missing" and len(location) == 1:
        # TRANSLATORS: {table} is the name of a table of campaign.toml, typed as "[table]" in the file.
        return Problem(file, _("missing table [{table}]").format(table=location[0]))
    if kind == "extra_forbidden":
        return unknown_key(location, file, lines)
    if kind in ("value_error", "assertion_error"):
        message = str(finding["ctx"]["error"])
    elif kind == "literal_error":
        message = one_of(finding["ctx"]["expected"])
    elif kind in BOUNDS:
        message = _(BOUNDS[kind]).format(bound=next(iter(finding["ctx"].values())))
    elif kind in MESSAGES:
        message = _(MESSAGES[kind])
    else:
        message = finding["msg"]  # a kind of finding we do not expect: pydantic's own (English) words
    return Problem(file, message, located(location, lines), ".".join(location))


def one_of(expected: str) -> str:
    """The allowed values of a setting, from pydantic's `'starttls', 'tls' or 'none'`."""
    head, _or, last = expected.rpartition(" or ")
    values = [value.strip().strip("'") for value in [*head.split(", "), last] if value.strip()]
    if len(values) == 1:
        # TRANSLATORS: {value} is the only value a setting may have, as typed in campaign.toml.
        return _("must be {value}").format(value=values[0])
    # TRANSLATORS: {choices} are values of a setting, as typed in campaign.toml, separated by commas ("starttls,
    # tls"); {last} is the last one ("none").
    return _("must be one of {choices} or {last}").format(choices=", ".join(values[:-1]), last=values[-1])


def unknown_key(location: tuple[str, ...], file: str, lines: dict[tuple[str, ...], int]) -> Problem:
    from . import schema

    *table, key = location
    known = schema.declared_keys(".".join(table))
    guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if not table:
        if guess:
            # TRANSLATORS: {name} and {guess} are names of tables of campaign.toml, typed as "[name]" in the file.
            message = _("unknown table [{name}]; did you mean [{guess}]?").format(name=key, guess=guess[0])
        else:
            # TRANSLATORS: {name} is a table of campaign.toml; {tables} are the known ones ("[campaign], [sender]").
            message = _("unknown table [{name}]; the tables are {tables}").format(
                name=key, tables=", ".join(f"[{k}]" for k in known)
            )
        return Problem(file, message, located(location, lines), key)
    if guess:
        # TRANSLATORS: shown after "campaign.toml:line [table.key]: "; {guess} is a key of the same table.
        message = _("unknown setting; did you mean “{guess}”?").format(guess=guess[0])
    else:
        # TRANSLATORS: shown after "campaign.toml:line [table.key]: "; {keys} are the keys of that table,
        # separated by commas.
        message = _("unknown setting; known: {keys}").format(keys=", ".join(known))
    return Problem(file, message, located(location, lines), ".".join(location))


def typos(data: dict[str, Any], file: str, lines: dict[tuple[str, ...], int]) -> list[Problem]:
    """Extra keys in the letter's open tables are for the templates, unless they look like a misspelt
    declared key (`start_at` for `starts_at`): those would silently leave the real key unset."""
    from . import schema

    problems = []
    for table in schema.LETTER_TABLES:
        section = data.get(table)
        if not isinstance(section, dict):
            continue
        declared = schema.declared_keys(table)
        for key in sorted(set(section) - set(declared)):
            if guess := difflib.get_close_matches(key, declared, n=1, cutoff=0.8):
                # TRANSLATORS: shown after "campaign.toml:line [table.key]: "; {guess} is a key of the same table.
                message = _("unknown key; did you mean “{guess}”?").format(guess=guess[0])
                problems.append(Problem(file, message, located((table, key), lines), f"{table}.{key}"))
    return problems


def outside_folder(data: dict[str, Any], folder: Path, file: str, lines: dict[tuple[str, ...], int]) -> list[Problem]:
    """The recipients file and the templates must be inside the campaign folder: a campaign folder from
    someone else must not make us read other files on this computer. A `ca_file` must exist."""
    problems = []
    for table, key in (("campaign", "recipients"), ("campaign", "templates"), ("smtp", "ca_file"), ("imap", "ca_file")):
        value = data.get(table, {}).get(key) if isinstance(data.get(table), dict) else None
        if not isinstance(value, str) or not value:
            continue
        target = (folder / value).resolve()
        if key == "ca_file":
            # TRANSLATORS: {path} is the full path of a certificate file named in campaign.toml.
            message = None if target.is_file() else _("{path} does not exist").format(path=target)
        elif not target.is_relative_to(folder):
            # TRANSLATORS: {value} is a path as written in campaign.toml.
            message = _(
                "“{value}” is outside the campaign folder; keep it inside the folder that holds campaign.toml"
            ).format(value=value)
        else:
            message = None
        if message:
            problems.append(Problem(file, message, located((table, key), lines), f"{table}.{key}"))
    return problems


def attachment_problems(
    data: dict[str, Any], folder: Path, file: str, lines: dict[tuple[str, ...], int]
) -> list[Problem]:
    """`[campaign] attachments`: each file inside the campaign folder and present, all of them not too big."""
    table = data.get("campaign")
    listed = table.get("attachments") if isinstance(table, dict) else None
    if not isinstance(listed, list) or not all(isinstance(value, str) for value in listed):
        return []  # not a list of names: the schema says so
    line = located(("campaign", "attachments"), lines)
    return [Problem(file, message, line, "campaign.attachments") for message in attachments.problems(listed, folder)]


def ca_path(value: str | None, folder: Path) -> Path | None:
    """`ca_file` is read relative to the campaign folder."""
    return (folder / value).resolve() if value else None


def located(location: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> int | None:
    """The line of the key, else of its table (a missing key is reported at its table's header)."""
    for end in range(len(location), 0, -1):
        if location[:end] in lines:
            return lines[location[:end]]
    return None


def toml_locations(text: str) -> dict[tuple[str, ...], int]:
    """The line number of every table header and key: tomllib keeps no positions. Lines inside
    multi-line strings are skipped; arrays spread over lines hold no `key =` lines of their own."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string:
            if line.count(in_string) % 2:
                in_string = None
            continue
        if header := TABLE_HEADER.match(line):
            table = dotted(header.group(1))
            lines.setdefault(table, number)
        elif key := KEY_LINE.match(line):
            lines.setdefault(table + dotted(key.group(1)), number)
        for quote in ('"""', "'''"):
            if line.count(quote) % 2:
                in_string = quote
    return lines


def dotted(key: str) -> tuple[str, ...]:
    """`a."b.c".d` -> ("a", "b.c", "d")."""
    return tuple(part.strip("\"'") for part in re.findall(r"\"[^\"]*\"|'[^']*'|[^.\s]+", key))
