"""docs/try-it.md, "Try it by hand", run command by command against a fresh `dwtrigger emulator` process and held
to every byte it shows: each command's output (stderr when its stdout is redirected, as a terminal shows it) and its
exit status (`# exit N` in the command's comment, else 0); and what the emulator says when it starts, as
docs/commands.md shows it.

The emulator serves on three free ports; the pages' 8765 to 8767 are swapped for them, and nothing else is
normalised: the demo seed's clock is fixed, instance ids and ledger names follow from it (tests/sessions.py)."""

import pytest

from conftest import ROOT
from sessions import EMULATOR, emulator, emulator_swaps, page, replay, session, undone
from test_sandbox import CLEAN


@pytest.fixture(scope="module")
def sandbox():
    with emulator() as proc:
        yield proc


def test_the_command_line_page_shows_what_the_emulator_says_when_it_starts(sandbox):
    text = page("commands.md")
    start = text.index("```\n$ dwtrigger emulator\n") + len("```\n$ dwtrigger emulator\n")
    assert undone("".join(sandbox.said), emulator_swaps(sandbox.port)) == text[start:text.index("```", start)]


def test_the_try_it_session_reproduces_byte_for_byte(sandbox, tmp_path, monkeypatch):
    (tmp_path / "events").symlink_to(ROOT / "events")
    (tmp_path / "rules.yaml").write_bytes((ROOT / "rules.yaml").read_bytes())
    monkeypatch.chdir(tmp_path)
    steps = session(page("try-it.md"))
    assert len(steps) > 15 and sum(command.startswith("dwtrigger sweep") for command, _ in steps) == 3
    assert any(EMULATOR[0] in command for command, _ in steps)
    replay(steps, CLEAN, tmp_path, emulator_swaps(sandbox.port))
