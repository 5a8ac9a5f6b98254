"""The docs' sessions, run as a reader runs them: every `$ command` line of a page's plain code blocks and the lines
it shows after it (blank lines separate). tests/test_walkthrough.py and tests/test_docs.py hold the pages to them.

Blank lines a command prints are not held (on a page they separate steps). A command's exit status is `exit N` in
its comment (`# exit 1`, `# hourly: exit 1`), else 0; `export NAME=VALUE` and `unset NAME` set the environment of the
commands after it. `dwtrigger ...` runs in this process (click's
runner): what it shows is its output, or its stderr when its stdout is redirected (`>` or `>>` FILE), as a terminal
shows it; anything else runs in a shell. Two things are swapped, and nothing else is normalised: the addresses the
page names (the emulator's 8765 to 8767, a closed port) for the ones the test has, and retry delays (full jitter)."""
import difflib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from click.testing import CliRunner

from conftest import ROOT
from dwtrigger.ops.cli import main

DOCS = ROOT / "docs"
EMULATOR = ("127.0.0.1:8765", "127.0.0.1:8766", "127.0.0.1:8767")     # what the pages say `dwtrigger emulator` serves
Steps = List[Tuple[str, List[str]]]
# A developer's own settings, kept from the commands a test runs (they would change what the pages show).
CLEAN = {name: None for name in os.environ if name.startswith(("DWTRIGGER_", "ALIBABA_CLOUD_"))}


def free_ports() -> int:
    """A port P with P+1 and P+2 free too, as `dwtrigger emulator --port P` needs (found by binding all three)."""
    for _ in range(50):
        with socket.socket() as first, socket.socket() as second, socket.socket() as third:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
                third.bind(("127.0.0.1", port + 2))
            except OSError:
                continue
            return port
    raise RuntimeError("no three consecutive free ports")


def started(*options: str) -> subprocess.Popen:
    """`dwtrigger emulator` as a process on ports P to P+2 (`.port`), once it has said how to reach it (`.said`).
    Ports found free are let go before it binds them, so another process may take one meanwhile: then it says the
    port is in use, and it is started again on others."""
    env = {k: v for k, v in os.environ.items() if k not in CLEAN}
    for _ in range(20):
        port = free_ports()
        proc = subprocess.Popen([sys.executable, "-m", "dwtrigger.ops.cli", "emulator", "--port", str(port), *options],
                                stderr=subprocess.PIPE, text=True, env=env)
        proc.said, proc.port = [], port
        while not proc.said or not proc.said[-1].endswith("Ctrl-C stops it.\n"):
            line = proc.stderr.readline()
            if not line:
                proc.wait(timeout=10)
                break
            proc.said.append(line)
        else:
            return proc
        if "is in use" not in "".join(proc.said):
            raise RuntimeError(f"the emulator did not start: {''.join(proc.said)}")
    raise RuntimeError("no three consecutive ports stayed free")


def page(name: str) -> str:
    return (DOCS / name).read_text()


def blocks(text: str) -> List[Tuple[str, List[str]]]:
    """(info string, lines) of each fenced code block of a page, in order."""
    found: List[Tuple[str, List[str]]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            if not inside:
                found.append((line[3:].strip(), []))
            inside = not inside
        elif inside:
            found[-1][1].append(line)
    return found


def sessions(text: str) -> List[List[str]]:
    """The lines of each of the text's sessions: a plain code block whose first line is a `$ ` command."""
    return [lines for info, lines in blocks(text) if info == "" and lines and lines[0].startswith("$ ")]


def session(text: str) -> Steps:
    """(command, the lines it shows) for every `$ ` line of the text's sessions, in order."""
    steps: Steps = []
    for lines in sessions(text):
        for line in lines:
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif line.strip():
                steps[-1][1].append(line)
    return steps


@contextmanager
def emulator() -> Iterator[subprocess.Popen]:
    """`dwtrigger emulator` as the pages start it (the demo seed), a process on free ports P to P+2 (`.port`); what
    it said when it started in `.said`."""
    proc = started()
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        finally:
            proc.kill()


def emulator_swaps(port: int) -> Dict[str, str]:
    """The pages' emulator addresses -> those of one serving on `port` to `port + 2`."""
    return {shown: f"127.0.0.1:{port + n}" for n, shown in enumerate(EMULATOR)}


def undone(text: str, swaps: Dict[str, str]) -> str:
    """`text` as the page shows it: the test's addresses back to the page's, retry delays as #."""
    for shown, real in swaps.items():
        text = re.sub(re.escape(real) + r"(?!\d)", shown, text)
    return re.sub(r"retrying in [0-9.]+ s", "retrying in # s", text)


def run(command: str, env: Dict[str, Optional[str]], cwd: Path) -> Tuple[List[str], int]:
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


def replay(steps: Steps, env: Dict[str, Optional[str]], cwd: Path, swaps: Dict[str, str]) -> None:
    """Run each step in turn and hold it to what the page shows: its lines and its exit status."""
    env = dict(env)
    for command, shown in steps:
        for page_says, real in swaps.items():
            command = command.replace(page_says, real)
        if command.startswith(("export ", "unset ")):
            verb, *names = shlex.split(command, comments=True)
            for name, _, value in (assignment.partition("=") for assignment in names):
                env[name] = value if verb == "export" else None
            continue
        said, status = run(command, env, cwd)
        expected_status = re.search(r"#.*\bexit (\d+)", command)
        got = [f"exit {status}"] + [undone(line, swaps) for line in said if line.strip()]   # blank: see session
        wanted = [f"exit {expected_status.group(1) if expected_status else 0}"] + [undone(line, {}) for line in shown]
        assert got == wanted, "\n".join([command, *difflib.unified_diff(wanted, got, "the page", "said", lineterm="")])
