"""The one exception family of the package.

Every error a user can cause or fix is a `MailmergeError`; the CLI turns it into a clean message and an
exit code. Other libraries' exceptions are wrapped where they happen, with the context a user needs
(file, row, column, host).
"""

from __future__ import annotations

from dataclasses import dataclass

from .i18n import ngettext


class MailmergeError(Exception):
    """Base of every error the CLI reports without a traceback."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as we can."""

    file: str
    message: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f":{self.row}"
        if self.column:
            where += f" [{self.column}]"
        return f"{where}: {self.message}"


class InputError(MailmergeError):
    """One or more problems in the recipients or campaign files; carries all of them."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        count = len(problems)
        # TRANSLATORS: the first line of an error; the problems follow, one per line.
        summary = ngettext(
            "{count} problem found, nothing was sent:", "{count} problems found, nothing was sent:", count
        ).format(count=count)
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{summary}\n{lines}")


class CampaignError(MailmergeError):
    """The campaign folder or campaign.toml is missing or wrong."""


class TemplateError(MailmergeError):
    """A template could not be rendered (message names template file:line and recipient row)."""


class SendError(MailmergeError):
    """The SMTP server could not be used at all (connection, TLS, authentication)."""


class LedgerError(MailmergeError):
    """The ledger database is unusable or refuses an operation."""


class InboxError(MailmergeError):
    """The mailbox could not be read: the IMAP server (connection, TLS, login, folder) or an exported file."""
