"""The interface language: gettext catalogs in `locale/`, one per language, made with Babel.

Messages are written in English in the code, as whole sentences with named placeholders
(`_("{count} recipients")`), and translated where they are shown. English needs no catalog; Vietnamese
comes from `locale/vi/LC_MESSAGES/mailmerge.po`, compiled to `.mo` when the package is built or installed.

The language is, in order: `MAILMERGE_LANG`, then `[campaign] language` of the campaign being used, then
the computer's language. Typer and Click translate their own words ("Usage", "Show this message and
exit.") through Python's global gettext domain; `use_language` points it at the same catalog.
"""

from __future__ import annotations

import gettext
import locale
import os
from pathlib import Path

DOMAIN = "mailmerge"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "vi")
DEFAULT = "en"
LANG_ENV = "MAILMERGE_LANG"

_translation: gettext.NullTranslations = gettext.NullTranslations()


def _(message: str) -> str:
    """`message` in the current language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form for `count` (Vietnamese has one form, English two)."""
    return _translation.ngettext(singular, plural, count)


def pgettext(context: str, message: str) -> str:
    """`message` as meant in `context`: "sent" the state, not the verb."""
    return _translation.pgettext(context, message)


def N_(message: str) -> str:
    """Marks a message for translation where it is defined; `_()` translates it where it is shown."""
    return message


def language_code(name: str | None) -> str | None:
    """ "vi", "vi_VN.UTF-8", "Vietnamese_Viet Nam" (Windows) -> "vi"; an unknown language -> None."""
    if not name:
        return None
    folded = name.strip().lower()
    if folded.startswith(("vi", "vietnam")):
        return "vi"
    if folded.startswith("en") or folded.split(".")[0] in ("c", "posix"):
        return "en"
    return None


def system_language() -> str | None:
    """The computer's language: the POSIX variables, else the locale Python started with (on Windows,
    the user's regional setting)."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        if value := os.environ.get(variable):
            return language_code(value.split(":")[0])
    return language_code(locale.getlocale()[0])


def choose_language(campaign_language: str | None = None) -> str:
    for candidate in (os.environ.get(LANG_ENV), campaign_language, system_language()):
        if code := language_code(candidate):
            return code
    return DEFAULT


def use_language(language: str) -> None:
    """Translate into `language` from now on, our messages and the command-line library's alike."""
    global _translation
    _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)
    os.environ["LANGUAGE"] = language  # what Python's global gettext (Typer, Click) looks up
    gettext.bindtextdomain(DOMAIN, LOCALE_DIR)
    gettext.textdomain(DOMAIN)


def current_language() -> str:
    info = _translation.info()
    return language_code(info.get("language")) or DEFAULT
