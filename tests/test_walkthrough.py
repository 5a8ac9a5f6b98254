"""The README's "Try it by hand" session, run command by command against a fresh `dwtrigger emulator` process and
held to every byte it shows: each command's output (stderr when its stdout is redirected, as a terminal shows it)
and its exit status (`# exit N` in the command's comment, else 0).

The emulator serves on three free ports; the README's 8765 to 8767 are swapped for them, and nothing else is
normalised: the demo seed's clock is fixed, instance ids and ledger names follow from it."""

import os
import re
import shlex
import signal
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from click.testing import CliRunner

from conftest import ROOT
from dwtrigger.ops.cli import main
from test_sandbox import CLEAN, free_ports, started

SECTION = "### Try it by hand"
README_PORT, README_OSS_PORT, README_MNS_PORT = "127.0.0.1:8765", "127.0.0.1:8766", "127.0.0.1:8767"


def session(readme: str) -> List[Tuple[str, List[str]]]:
    """(command, the lines it shows) for every `$ ` line of the section's code blocks; blank lines separate."""
    start = readme.index(SECTION)
    text = readme[start:readme.index("\n## ", start)]
    steps: List[Tuple[str, List[str]]] = []
    for block in re.findall(r"^```\n(.*?)^```$", text, flags=re.S | re.M):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif line.strip():
                steps[-1][1].append(line)
    return steps


@pytest.fixture(scope="module")
def sandbox():
    """The emulator as the README starts it (the demo seed), on free ports P to P+2; its announcement in `said`."""
    port = free_ports()
    proc = started(port)
    proc.port = port
    yield proc
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=10)


def on_readme_ports(text: str, port: int) -> str:
    return (text.replace(f"127.0.0.1:{port}", README_PORT).replace(f"127.0.0.1:{port + 1}", README_OSS_PORT)
            .replace(f"127.0.0.1:{port + 2}", README_MNS_PORT))


def run(command: str, env: Dict[str, str], cwd: Path) -> Tuple[List[str], int]:
    """What the command shows and its exit status: dwtrigger in this process (click's runner), anything else in a
    shell."""
    words = shlex.split(command, comments=True)
    if words[0] != "dwtrigger":
        shell_env = {name: value for name, value in {**os.environ, **env}.items() if value is not None}   # None: unset
        done = subprocess.run(command, shell=True, cwd=cwd, env=shell_env, capture_output=True, text=True)
        return (done.stdout + done.stderr).splitlines(), done.returncode
    target = None
    if len(words) > 2 and words[-2] in (">", ">>"):
        target, words = (words[-2], cwd / words[-1]), words[:-2]
    result = CliRunner().invoke(main, words[1:], env=env, prog_name="dwtrigger")
    if target is None:
        return result.output.splitlines(), result.exit_code
    with open(target[1], "a" if target[0] == ">>" else "w") as out:
        out.write(result.stdout)
    return result.stderr.splitlines(), result.exit_code


def test_the_readme_shows_what_the_emulator_says_when_it_starts(sandbox):
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```\n$ dwtrigger emulator\n") + len("```\n$ dwtrigger emulator\n")
    assert on_readme_ports("".join(sandbox.said), sandbox.port) == readme[start:readme.index("```", start)]


def test_the_readme_session_reproduces_byte_for_byte(sandbox, tmp_path, monkeypatch):
    (tmp_path / "events").symlink_to(ROOT / "events")
    (tmp_path / "rules.yaml").write_bytes((ROOT / "rules.yaml").read_bytes())
    monkeypatch.chdir(tmp_path)
    steps = session((ROOT / "README.md").read_text())
    assert len(steps) > 15 and sum(command.startswith("dwtrigger sweep") for command, _ in steps) == 3
    env: Dict[str, str] = dict(CLEAN)
    for command, shown in steps:
        command = command.replace(README_PORT, f"127.0.0.1:{sandbox.port}")
        if command.startswith("export "):
            name, _, value = command[len("export "):].partition("=")
            env[name] = value
            continue
        said, status = run(command, env, tmp_path)
        said = [on_readme_ports(line, sandbox.port) for line in said]
        expected_status = re.search(r"# exit (\d)", command)
        assert (said, status) == (shown, int(expected_status.group(1)) if expected_status else 0), command
