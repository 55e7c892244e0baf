"""The user guide (docs/huong-dan-su-dung.md) cannot drift from the tool: every picture it shows exists, and every
`mailmerge` command and option it tells the reader to type is one the command line really has."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer

from mailmerge.cli.commands import app
from mailmerge.ledger import STATES
from mailmerge.tracking import INVALID, NEW

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GUIDE = DOCS / "huong-dan-su-dung.md"

IMAGE = re.compile(r"!\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
# `mailmerge` as a command, not part of a name (mailmerge-smtp, mailmerge/locale, MAILMERGE_LANG)
INVOCATION = re.compile(r"(?<![\w/.-])mailmerge(?![\w/.-])")
# where the words typed after `mailmerge` end: a comment, a pipe or redirection, another command, a closing quote
END_OF_COMMAND = re.compile(r"\s#|[|><;`]|&&")
LONG_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
OPTION = re.compile(r"^(?:--[a-z][a-z0-9-]*|-[A-Za-z])$")
# code that runs another program: its options are not mailmerge's
OTHER_PROGRAMS = ("python", "py", "pip", "keyring", "make", "cd", "set", "apt-get", "echo", "venv")
STATE_CODES = {*STATES, NEW, INVALID}


def guide_text() -> str:
    return GUIDE.read_text(encoding="utf-8")


def code_segments(markdown: str) -> list[str]:
    """Each line of every fenced code block, and every inline code span (CommonMark: a run of n backticks up to
    the next run of exactly n), in the order they appear."""
    segments: list[str] = []

    def take_block(match: re.Match[str]) -> str:
        segments.extend(line for line in match.group(2).splitlines() if line.strip())
        return "\n"

    prose = FENCE.sub(take_block, markdown)
    position = 0
    while opening := re.compile(r"`+").search(prose, position):
        width = len(opening.group(0))
        closing = re.compile(rf"(?<!`)`{{{width}}}(?!`)").search(prose, opening.end())
        if closing is None:
            position = opening.end()  # a literal run of backticks
            continue
        content = prose[opening.end() : closing.start()].replace("\n", " ")
        if content.startswith(" ") and content.endswith(" ") and content.strip():
            content = content[1:-1]
        if content.strip():
            segments.append(content.replace("\\|", "|"))  # a pipe escaped inside a table cell
        position = closing.end()
    return segments


def invocations(segment: str) -> list[list[str]]:
    """The words typed after each `mailmerge` in a code segment."""
    found = []
    for match in INVOCATION.finditer(segment):
        rest = segment[match.end() :]
        end = END_OF_COMMAND.search(rest)
        found.append((rest[: end.start()] if end else rest).split())
    return found


def options_of(command: click.Command) -> set[str]:
    return {option for param in command.params for option in (*param.opts, *param.secondary_opts)} | {"--help"}


@pytest.fixture(scope="module")
def cli() -> click.Group:
    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    return group


def test_the_guide_is_linked_from_the_readme():
    assert "docs/huong-dan-su-dung.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_picture_the_guide_shows_exists():
    links = IMAGE.findall(guide_text())
    assert links, "the guide shows no picture"
    missing = []
    for link in links:
        assert "://" not in link and not link.startswith("/"), f"{link}: pictures are linked relative to docs/"
        target = (DOCS / link).resolve()
        if not target.is_relative_to(DOCS) or not target.is_file():
            missing.append(link)
    assert not missing, f"the guide shows pictures that do not exist under docs/: {missing}"


def test_the_code_segments_are_found():
    segments = code_segments(
        "a `mailmerge check` b ``say `mailmerge send` now`` c\n```console\nmailmerge status\n```\n"
    )
    assert segments == ["mailmerge status", "mailmerge check", "say `mailmerge send` now"]
    assert invocations("say `mailmerge send` now") == [["send"]]
    assert invocations("mailmerge send --only 3   # comment") == [["send", "--only", "3"]]
    assert invocations("keyring set mailmerge-smtp user@host") == []


def test_every_command_and_option_the_guide_shows_exists(cli):
    everywhere = options_of(cli).union(*(options_of(command) for command in all_commands(cli)))
    problems, shown = [], set()
    for segment in code_segments(guide_text()):
        for words in invocations(segment):
            command: click.Command = cli
            while isinstance(command, click.Group) and words and re.fullmatch(r"[a-z][a-z-]*", words[0]):
                name, group = words[0], command
                if name not in group.commands:
                    problems.append(f"`{segment}`: there is no command `mailmerge {name}`")
                    break
                command, words = group.commands[name], words[1:]
                shown.add(name)
            else:
                problems += option_problems(segment, command, words)
        if segment.split()[0] in OTHER_PROGRAMS:
            continue  # another program's options
        outside = outside_invocations(segment)
        for option in LONG_OPTION.findall(outside):
            if option not in everywhere:
                problems.append(f"`{segment}`: no mailmerge command has the option {option}")
        for match in re.finditer(r"--state\s+(\S+)", outside):
            problems += state_problems(segment, match.group(1))
    assert not problems, "\n".join(problems)
    assert shown, "the guide shows no mailmerge command"


def option_problems(segment: str, command: click.Command, words: list[str]) -> list[str]:
    problems = []
    known = options_of(command)
    for index, word in enumerate(words):
        option = word.split("=", 1)[0]
        if OPTION.match(option) and option not in known:
            problems.append(f"`{segment}`: `mailmerge {command.name}` has no option {option}")
        if option == "--state" and index + 1 < len(words):
            problems += state_problems(segment, words[index + 1])
    return problems


def all_commands(group: click.Group) -> list[click.Command]:
    found = []
    for command in group.commands.values():
        found.append(command)
        if isinstance(command, click.Group):
            found += all_commands(command)
    return found


def outside_invocations(segment: str) -> str:
    """The segment without the words typed after each `mailmerge` (those are checked against their command)."""
    kept, position = [], 0
    for match in INVOCATION.finditer(segment):
        kept.append(segment[position : match.start()])
        rest = segment[match.end() :]
        end = END_OF_COMMAND.search(rest)
        position = match.end() + (end.start() if end else len(rest))
    kept.append(segment[position:])
    return " ".join(kept)


def state_problems(segment: str, value: str) -> list[str]:
    """A value given to `--state` must be a state code (an upper-case word is a placeholder, like STATE)."""
    value = value.strip(".,;:)")
    if value.isupper() or value in STATE_CODES:
        return []
    return [f"`{segment}`: `--state {value}`: there is no state {value!r}; states: {sorted(STATE_CODES)}"]
