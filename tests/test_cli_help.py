"""Every command explains itself: a description under ``--help``, help text on every option,
no internal docstring fragments and no "(default: None)" noise."""

from __future__ import annotations

import argparse

import pytest

from svgrl.cli import build_parser


def _commands(parser: argparse.ArgumentParser, prefix: tuple = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*prefix, name))
            return
    yield prefix, parser


COMMANDS = list(_commands(build_parser()))


@pytest.mark.parametrize("words,parser", COMMANDS, ids=[" ".join(w) for w, _ in COMMANDS])
def test_help_describes_the_command(words, parser):
    text = parser.format_help()
    assert parser.description, f"`svgrl {' '.join(words)}` has no description"
    assert "(default: None)" not in text
    assert "listed in" not in text and "`add_" not in text  # no internal docstring fragments
    for a in parser._actions:
        if a.option_strings and a.help is not argparse.SUPPRESS:
            assert a.help and a.help.strip(" ()") not in ("", "default: None"), \
                f"`svgrl {' '.join(words)} {a.option_strings[0]}` has no help"


def test_help_loads_no_torch():
    """`svgrl --help` and every command's `--help` answer without importing torch,
    transformers, scipy or numba (seconds on a loaded machine): the config dataclasses the
    parser reads live in modules free of them. Run in a child so this process's own imports
    do not count."""
    import subprocess
    import sys

    words = [list(w) for w, _ in COMMANDS]
    code = (
        "import sys, io, contextlib\n"
        "from svgrl.cli import main\n"
        f"for words in [[], *{words!r}]:\n"
        "    try:\n"
        "        with contextlib.redirect_stdout(io.StringIO()):\n"
        "            main([*words, '--help'])\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, (words, e.code)\n"
        "heavy = ('torch', 'transformers', 'scipy', 'numba')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"--help imported {out.stdout.strip()}"


def test_bare_svgrl_lists_the_commands(capsys):
    from svgrl.cli import main

    assert main([]) == 2
    err = capsys.readouterr().err
    assert "train" in err and "bench" in err and "Train, reinforce and evaluate" in err
