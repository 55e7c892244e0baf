"""`init`: a new campaign folder, from the seed campaign or from an earlier campaign, with an identity of
its own — so that two campaigns never share a Message-ID, even when one was copied from the other — and
a ledger holding the key that signs its tokens."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

from . import tokens
from .campaign import CAMPAIGN_FILE, load_campaign, seed_folder
from .errors import CampaignError, MailmergeError
from .i18n import _
from .ledger import Ledger

CAMPAIGN_TABLE = re.compile(r"^\[campaign\][^\n]*\n", re.M)
ID_LINE = re.compile(r"^id\s*=.*\n", re.M)
SLUG_LINE = re.compile(r"^slug\s*=[^\n]*\n", re.M)


def init_campaign(folder: Path, source: Path | None = None) -> list[Path]:
    """Copy the seed campaign (or the campaign in `source`: its campaign.toml, recipients file and
    templates, not its ledger) into `folder`, never overwriting a file; give a new campaign file an
    identity of its own, and the folder a ledger with its token key. Returns what was written."""
    source = source or seed_folder()
    files = campaign_files(source)
    written = []
    for path in files:
        target = folder / path.relative_to(source)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.name == CAMPAIGN_FILE and path.parent == source:
            target.write_text(with_identity(path.read_text(encoding="utf-8-sig"), tokens.new_identity()), "utf-8")
        else:
            shutil.copyfile(path, target)
        written.append(target)
    if written:
        written += start_ledger(folder)
    return written


def campaign_files(source: Path) -> list[Path]:
    """What a campaign is made of: its campaign file, its recipients file and every file of its templates."""
    campaign_file = source / CAMPAIGN_FILE
    if not campaign_file.is_file():
        # TRANSLATORS: {file} is "campaign.toml"; {folder} is the folder given to `mailmerge init --from`.
        raise CampaignError(_("no {file} in {folder} to start from").format(file=CAMPAIGN_FILE, folder=source))
    table = tomllib.loads(campaign_file.read_text(encoding="utf-8-sig")).get("campaign", {})
    recipients = source / str(table.get("recipients", "recipients.csv"))
    templates = source / str(table.get("templates", "templates"))
    files = [campaign_file, *([recipients] if recipients.is_file() else [])]
    return files + sorted(path for path in templates.rglob("*") if path.is_file())


def with_identity(text: str, identity: str) -> str:
    """campaign.toml with `id` in its [campaign] table set to `identity` (after the slug), comments kept."""
    table = CAMPAIGN_TABLE.search(text)
    if table is None:
        return text  # not a campaign file `check` would accept: it says what is missing
    end = next_table.start() if (next_table := re.search(r"^\[", text[table.end() :], re.M)) else len(text)
    body = text[table.end() : table.end() + end]
    setting = f'id = "{identity}"'
    line = f"{setting:<40}# this campaign's own; `mailmerge init --from` makes a new one\n"
    if ID_LINE.search(body):
        body = ID_LINE.sub(line, body, count=1)
    elif slug := SLUG_LINE.search(body):
        body = body[: slug.end()] + line + body[slug.end() :]
    else:
        body = line + body
    return text[: table.end()] + body + text[table.end() + end :]


def start_ledger(folder: Path) -> list[Path]:
    """The new campaign's ledger, made now so that preview shows the Message-IDs that `send` will use.
    A campaign file that does not load yet gets its ledger at its first send."""
    try:
        campaign = load_campaign(folder)
    except MailmergeError:
        return []
    if campaign.ledger_file.exists():
        return []
    ledger = Ledger(campaign.ledger_file)
    try:
        ledger.token_key(campaign)
    finally:
        ledger.close()
    return [folder / campaign.ledger_file.name]
