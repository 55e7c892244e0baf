"""Jinja2 for campaign folders that come from other offices: sandboxed, jailed to templates/, bounded.

Campaign folders travel by email and USB stick, so a template is untrusted input. It may use the merge
data, Jinja's built-in filters and tests, and the letter filters below, and nothing else: no Python
internals (`__class__`, `__globals__`, …), no file outside the templates folder, no operation that
builds a gigantic string or number. Every such attempt is a `jinja2.sandbox.SecurityError` (or a
`TemplateFileError` from the loader), which the renderer reports as a `TemplateError` naming the line.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

import jinja2
from jinja2 import nodes
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment, SecurityError, safe_range
from jinja2.utils import generate_lorem_ipsum

from .i18n import _, ngettext
from .vntext import vn_date, vn_time, vn_weekday

MAX_REPEAT = MAX_RANGE  # the most characters or items `*` may produce, the same cap Jinja puts on range()
MAX_INT_BITS = 4096  # the largest integer `*` and `**` may produce (about 1,200 digits)


class TemplateFileError(jinja2.TemplateError):
    """A template file that may not or cannot be used: outside the templates folder, unreadable, not UTF-8."""


class FolderLoader(jinja2.BaseLoader):
    """Serves the regular files inside one folder and nothing else.

    Unlike `FileSystemLoader` it resolves symlinks before deciding, so a link inside templates/ that
    points at /etc/hostname or ../campaign.toml is refused like the path itself would be.
    """

    def __init__(self, root: Path):
        self.root = root.resolve()

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.path_of(template)
        source = read_text(path, template)
        mtime = path.stat().st_mtime
        return source, str(path), lambda: path.is_file() and path.stat().st_mtime == mtime

    def read(self, name: str) -> str:
        """The text of the file `name`, by the same rules (the stylesheet is read this way too)."""
        return read_text(self.path_of(name), name)

    def path_of(self, name: str) -> Path:
        """The resolved file `name` stands for; raises unless it is a regular file inside the folder."""
        pure = PurePosixPath(name)
        if "\\" in name or pure.is_absolute() or ".." in pure.parts:
            raise TemplateFileError(
                # TRANSLATORS: {name} is a file name as a template wrote it, e.g. "../campaign.toml".
                _(
                    "{name} is outside the templates folder, and a template may only use files inside that folder"
                ).format(name=name)
            )
        path = self.root.joinpath(*pure.parts)
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise TemplateFileError(
                # TRANSLATORS: {name} is a file in the templates folder; {target} is the full path it links to.
                _(
                    "{name} is a link to {target}, which is outside the templates folder, "
                    "and a template may only use files inside that folder"
                ).format(name=name, target=resolved)
            )
        if not resolved.is_file():
            raise jinja2.TemplateNotFound(name)
        return resolved


def read_text(path: Path, name: str) -> str:
    """UTF-8 text (a BOM from Notepad is dropped); anything else is an error naming the line."""
    try:
        data = path.read_bytes()
    except OSError as error:
        # TRANSLATORS: {reason} is the operating system's explanation, e.g. "Permission denied".
        message = _("{name} could not be read ({reason})")
        raise TemplateFileError(message.format(name=name, reason=error.strerror)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise TemplateFileError(
            # TRANSLATORS: {byte} is the offending byte in hexadecimal, e.g. "0xe1".
            _("{name} is not valid UTF-8 (byte {byte} on line {line}); save it with UTF-8 encoding").format(
                name=name, byte=f"0x{data[error.start]:02x}", line=line
            )
        ) from None


class CampaignSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, plus: unsafe attributes fail at once, and `*` and `**` are bounded."""

    intercepted_binops = frozenset({"*", "**"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> NoReturn:
        """Jinja returns an undefined here, which `|default`, `is defined` or `map(attribute=…)` turn into a
        silent blank; a template reaching for internals is hostile or broken, so stop it."""
        # TRANSLATORS: {attribute} and {type} are Python names, already quoted: 'mro', 'type'.
        message = _("access to attribute {attribute} of {type} object is unsafe")
        raise SecurityError(message.format(attribute=repr(attribute), type=repr(type(obj).__name__)))

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            check_product(left, right)
        elif operator == "**":
            check_power(left, right)
        return super().call_binop(context, operator, left, right)


def check_product(left: Any, right: Any) -> None:
    """`"a" * 10**9`, `[0] * 10**9`, `10**1000 * 10**1000` are refused before Python allocates them."""
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            # TRANSLATORS: a template computed a huge number; {bits} is the limit, 4096 (about 1,200 digits).
            message = _("the product is larger than the {bits}-bit integers templates may use")
            raise SecurityError(message.format(bits=MAX_INT_BITS))
        return
    for sequence, count in ((left, right), (right, left)):
        if isinstance(count, int) and hasattr(sequence, "__len__") and len(sequence) * count > MAX_REPEAT:
            # TRANSLATORS: `*` in a template, e.g. "ab" * 1000000; {count} is the limit.
            message = ngettext(
                "repeating a text or list to more than {count} item is not allowed",
                "repeating a text or list to more than {count} items is not allowed",
                MAX_REPEAT,
            )
            raise SecurityError(message.format(count=MAX_REPEAT))


def check_power(base: Any, exponent: Any) -> None:
    """`10 ** (10 ** 9)` would take minutes and gigabytes; floats overflow on their own, and quickly.
    (Jinja's `**` is left-associative: `10 ** 10 ** 9` is `(10 ** 10) ** 9`, which is allowed.)"""
    if not (isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0):
        return
    if exponent * abs(base).bit_length() > MAX_INT_BITS:
        # TRANSLATORS: a template computed a huge number; {bits} is the limit, 4096 (about 1,200 digits).
        message = _("the power is larger than the {bits}-bit integers templates may use")
        raise SecurityError(message.format(bits=MAX_INT_BITS))


def bounded_range(*args: int) -> range:
    """Jinja's sandboxed range(), failing with a SecurityError rather than an OverflowError."""
    try:
        return safe_range(*args)
    except OverflowError:
        # TRANSLATORS: range() and lipsum() are functions a template may call; {count} is the limit.
        message = ngettext(
            "range() may produce at most {count} number in a template",
            "range() may produce at most {count} numbers in a template",
            MAX_RANGE,
        )
        raise SecurityError(message.format(count=MAX_RANGE)) from None


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Jinja's lorem ipsum generator, which the sandbox leaves unbounded; Jinja's argument names are kept
    (`lipsum(2, min=5)`), so `min` and `max` shadow the builtins here."""
    if n * (max if max > min else min) > MAX_REPEAT:
        # TRANSLATORS: range() and lipsum() are functions a template may call; {count} is the limit.
        message = ngettext(
            "lipsum() may produce at most {count} word in a template",
            "lipsum() may produce at most {count} words in a template",
            MAX_REPEAT,
        )
        raise SecurityError(message.format(count=MAX_REPEAT))
    return generate_lorem_ipsum(n, html, min, max)


def doc_number(number: object) -> str:
    """Document numbers below 10 are zero-padded ("05"), as the decree asks."""
    text = str(number)
    return f"{int(text):02d}" if text.isdigit() else text


def make_environment(templates_dir: Path) -> CampaignSandbox:
    """StrictUndefined: a misspelt field is an error, not a blank in 65 letters. Merge data is only ever
    passed as variables, never compiled, so a `{{` in a name stays text."""
    env = CampaignSandbox(
        loader=FolderLoader(templates_dir),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html"]),
        keep_trailing_newline=False,
    )
    env.globals.update(range=bounded_range, lipsum=bounded_lipsum)
    env.filters.update(vn_date=vn_date, vn_time=vn_time, vn_weekday=vn_weekday, doc_number=doc_number)
    return env


def describe(error: BaseException, templates_dir: Path, fallback: str) -> str:
    """ "email.txt:3: access to attribute '__init__' of 'type' object is unsafe" for any error a template
    raised while being loaded or filled, Jinja's or Python's (a division by zero, a wrong type)."""
    return f"{template_location(error, templates_dir, fallback)}: {error_text(error)}"


def error_text(error: BaseException) -> str:
    """What went wrong: our own messages in the user's language; Jinja's and Python's stay as they are
    (English), since they come from those libraries."""
    if isinstance(error, jinja2.TemplateNotFound):
        # TRANSLATORS: {name} is the file a template includes or extends, e.g. "footer.html".
        return _("the template {name} was not found in the templates folder").format(name=error.name)
    if isinstance(error, jinja2.TemplateSyntaxError):
        # TRANSLATORS: shown after a template's file and line, when Jinja gives no explanation of its own.
        text = error.message or _("syntax error")
    elif isinstance(error, ArithmeticError) and error.args and isinstance(error.args[-1], str):
        text = error.args[-1]  # OverflowError(34, 'Numerical result out of range')
    else:
        text = str(error) or type(error).__name__
    return text.rstrip(".")


def template_location(error: BaseException, templates_dir: Path, fallback: str) -> str:
    """ "letter.html:12" (or "parts/x.html:3" for an included file) from the error itself for a syntax
    error, else from the frames Jinja2 puts into the traceback of a render-time error."""
    root = templates_dir.resolve()
    if isinstance(error, jinja2.TemplateSyntaxError) and error.filename and error.lineno:
        return f"{display_name(error.filename, root, error.name)}:{error.lineno}"
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if Path(frame.filename).is_relative_to(root):
            return f"{display_name(frame.filename, root, None)}:{frame.lineno}"
    return fallback


def display_name(filename: str, root: Path, name: str | None) -> str:
    path = Path(filename)
    return str(path.relative_to(root)) if path.is_relative_to(root) else name or path.name


# --- what the templates use ----------------------------------------------------------------------

LOADING_NODES = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)


def template_fields(env: jinja2.Environment, names: Iterable[str]) -> set[tuple[str, str]]:
    """The (variable, attribute) pairs the templates read, e.g. ("event", "agenda"), ("recipient", "name"),
    from `event.agenda` or `event["agenda"]`, following `{% include "…" %}` of constant names.

    Only parses, never renders. A variable bound in the template (`{% set e = event %}`, a loop
    variable) is reported under its own name, not the one it stands for. Raises Jinja's errors for the
    named templates (the `Renderer` has reported them already); included files that fail are skipped."""
    fields: set[tuple[str, str]] = set()
    top = set(names)
    pending, seen = list(top), set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            tree = parse(env, name)
        except jinja2.TemplateError:
            if name in top:
                raise
            continue  # an included file that cannot be loaded is reported when a letter really includes it
        fields |= fields_of(tree)
        pending += included_names(tree)
    return fields


def parse(env: jinja2.Environment, name: str) -> nodes.Template:
    assert env.loader is not None
    source, filename, _uptodate = env.loader.get_source(env, name)
    return env.parse(source, name, filename)


def fields_of(tree: nodes.Node) -> set[tuple[str, str]]:
    fields = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node.node, nodes.Name):
            continue
        if isinstance(node, nodes.Getattr):
            fields.add((node.node.name, node.attr))
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            fields.add((node.node.name, node.arg.value))
    return fields


def included_names(tree: nodes.Node) -> list[str]:
    found = []
    for node in tree.find_all(LOADING_NODES):
        target = node.template
        if isinstance(target, nodes.Const) and isinstance(target.value, str):
            found.append(target.value)
    return found
