"""The words Typer and Click print themselves, listed so that `pybabel extract` puts them in our catalog.

This module is never imported. Typer and Click translate their own words ("Usage:", "Show this message
and exit.", "Missing option" …) through Python's global gettext domain, which `i18n.use_language` points
at our catalog; but extraction only reads our code, so their messages are written out here. Each msgid
must be EXACTLY the library's own string, placeholders included (`{name!r}`, `{}`), or it is never
looked up. Only what a user of `mailmerge` can meet is listed: help screens, usage errors and prompts.

Where they come from:

* Typer (typer/core.py, typer/rich_utils.py): the help screen drawn with rich and its error panel.
* Click 8 (click/*.py): Typer before 0.26 runs on Click, which translates these. Typer 0.26 and later
  carry their own copy of Click (`typer._click`) whose words are plain English strings, not translatable
  through gettext: with those versions "Usage:", "Show this message and exit." and the usage errors
  stay in English whatever the catalog says.

"Show the version and exit." (Click's `version_option`) is not repeated: `mailmerge --version` has the
same help text of its own, in cli/app.py.
"""

from __future__ import annotations

from ..i18n import N_, ngettext

TYPER = (
    # TRANSLATORS: the titles of the panels of a help screen (Typer)
    N_("Arguments"),
    N_("Options"),
    N_("Commands"),
    # TRANSLATORS: in a help screen, after an option's help; {} is the default value (Typer). Keep the brackets.
    N_("[default: {}]"),
    # TRANSLATORS: in a help screen, after an option's help; {} is the environment variable (Typer)
    N_("[env var: {}]"),
    # TRANSLATORS: in a help screen, after the help of an option that must be given (Typer)
    N_("[required]"),
    # TRANSLATORS: the title of the panel that shows a usage error (Typer)
    N_("Error"),
    # TRANSLATORS: printed when the user stops a prompt with Ctrl-C (Typer)
    N_("Aborted."),
    # TRANSLATORS: under a usage error (Typer): "Try 'mailmerge send --help' for help." Keep the markup
    # [blue]…[/] and the quotes.
    N_("Try [blue]'{command_path} {help_option}'[/] for help."),
    # TRANSLATORS: a usage error: {name} is the command typed, in quotes (Typer, Click)
    N_("No such command {name!r}."),
    # TRANSLATORS: a usage error: no command was given (Typer, Click)
    N_("Missing command."),
    # TRANSLATORS: printed when the user stops a prompt with Ctrl-C, without rich (Typer, Click)
    N_("Aborted!"),
    # TRANSLATORS: in a help screen without rich, after an option's help: "[default: 1]" (Typer, Click)
    N_("default: {default}"),
    # TRANSLATORS: in a help screen without rich, after an option's help (Typer, Click)
    N_("env var: {var}"),
    # TRANSLATORS: in a help screen without rich, after the help of an option that must be given
    N_("required"),
    # TRANSLATORS: in a help screen, a default value worked out when the command runs (Typer, Click)
    N_("(dynamic)"),
)

CLICK = (
    # TRANSLATORS: the first word of a help screen or a usage error: "Usage: mailmerge send [OPTIONS]"
    N_("Usage:"),
    # TRANSLATORS: the help of --help
    N_("Show this message and exit."),
    # TRANSLATORS: a usage error, without rich: "Error: Missing option '--campaign'."
    N_("Error: {message}"),
    # TRANSLATORS: under a usage error, without rich: "Try 'mailmerge send --help' for help."
    N_("Try '{command} {option}' for help."),
    N_("Invalid value: {message}"),
    # TRANSLATORS: {param_hint} names the option, "'--limit'"; {message} says what is wrong
    N_("Invalid value for {param_hint}: {message}"),
    # TRANSLATORS: followed by the argument's or option's name: "Missing option '--to'."
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing parameter: {param_name}"),
    # TRANSLATORS: {name} is the option typed, in quotes
    N_("No such option {name!r}."),
    N_("Option {name!r} does not take a value."),
    # TRANSLATORS: {value} is what was typed, in quotes; {number_type} is "integer" or "float" (Click's
    # own word, not translated)
    N_("{value!r} is not a valid {number_type}."),
    # TRANSLATORS: {value} is the number typed; {range} is the allowed range, "1<=x<=16"
    N_("{value} is not in the range {range}."),
    # TRANSLATORS: a kind of path, shown capitalised in "Directory 'x' is a file."
    N_("directory"),
    N_("file"),
    # TRANSLATORS: {name} is "File" or "Directory" (the messages "file", "directory", capitalised);
    # {filename} is the path typed, in quotes
    N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is a directory."),
    # TRANSLATORS: asked again after a password, to compare the two (Click)
    N_("Repeat for confirmation"),
    N_("Error: The two entered values do not match."),
    # TRANSLATORS: after an answer to a yes/no question that is neither (Click)
    N_("Error: invalid input"),
)

CLICK_PLURALS = (
    # TRANSLATORS: after "No such option" or "No such command": the one close match, or several (Click)
    ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", 1),
    # TRANSLATORS: {args} lists the arguments that were not expected, in quotes
    ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", 1),
    # TRANSLATORS: {name} is the option, in quotes; {nargs} how many values it takes
    ngettext("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", 1),
)
