"""docs/try-it.md, "Try it by hand", run command by command against a fresh `dwtrigger emulator` process and held
to every byte it shows: each command's output (stderr when its stdout is redirected, as a terminal shows it) and its
exit status (`# exit N` in the command's comment, else 0).

The emulator serves on three free ports; the pages' 8765 to 8767 are swapped for them, and nothing else is
normalised: the demo seed's clock is fixed, instance ids and ledger names follow from it (tests/sessions.py)."""

from conftest import ROOT
from sessions import CLEAN, EMULATOR, emulator, emulator_swaps, page, replay, session


def test_the_try_it_session_reproduces_byte_for_byte(tmp_path, monkeypatch):
    (tmp_path / "events").symlink_to(ROOT / "events")
    (tmp_path / "rules.yaml").write_bytes((ROOT / "rules.yaml").read_bytes())
    monkeypatch.chdir(tmp_path)
    steps = session(page("try-it.md"))
    assert len(steps) > 15 and sum(command.startswith("dwtrigger sweep") for command, _ in steps) == 3
    assert any(EMULATOR[0] in command for command, _ in steps)
    with emulator() as proc:
        replay(steps, CLEAN, tmp_path, emulator_swaps(proc.port))
