"""Why an address is not valid, in the user's language.

email-validator explains a bad address in English ("An email address must have an @-sign."). The
reasons an office meets (a missing @, Vietnamese letters typed into an address, a stray period) are
translated here; a rarer one is shown as the library wrote it.
"""

from __future__ import annotations

from .i18n import N_, _

# The library's sentence -> ours. Rules as data: add a row when users meet another one.
EXACT = {
    "An email address must have an @-sign.": N_("the address has no @ sign"),
    "There must be something before the @-sign.": N_("there is nothing before the @ sign"),
    "There can't be anything after the email address.": N_("there is something after the address"),
    "The part after the @-sign is not valid. It should have a period.": N_(
        "the part after the @ sign has no period, so it is not a domain name"
    ),
    "The part after the @-sign is not valid. It is not within a valid top-level domain.": N_(
        "the part after the @ sign does not end in a real top-level domain"
    ),
    "The part after the @-sign is a special-use or reserved name that cannot be used with email.": N_(
        "the part after the @ sign is a reserved name that cannot receive email"
    ),
    "An email address cannot have two periods in a row.": N_("the address has two periods in a row"),
    "An email address cannot start with a period.": N_("the address starts with a period"),
    "An email address cannot have a period immediately before the @-sign.": N_(
        "the address has a period just before the @ sign"
    ),
    "An email address cannot have a period immediately after the @-sign.": N_(
        "the address has a period just after the @ sign"
    ),
    "An email address cannot end with a period.": N_("the address ends with a period"),
    "The email address contains an invalid character.": N_("the address contains a character that is not allowed"),
    "Internationalized characters before the @-sign are not supported.": N_(
        "the part before the @ sign has letters with diacritics, which addresses cannot have"
    ),
}
# The library's sentence ending in ": <characters>." -> ours, with {characters}.
WITH_CHARACTERS = {
    "Internationalized characters before the @-sign are not supported: ": N_(
        "the part before the @ sign has letters with diacritics, which addresses cannot have: {characters}"
    ),
    "The email address contains invalid characters before the @-sign: ": N_(
        "the part before the @ sign has characters that are not allowed: {characters}"
    ),
    "The part after the @-sign contains invalid characters: ": N_(
        "the part after the @ sign has characters that are not allowed: {characters}"
    ),
}


def explain(reason: str) -> str:
    """email-validator's `reason` in the current language, when it is one we know."""
    if reason in EXACT:
        return _(EXACT[reason])
    for start, message in WITH_CHARACTERS.items():
        if reason.startswith(start):
            return _(message).format(characters=reason.removeprefix(start).rstrip("."))
    return reason
