"""The front page and docs/: every relative link and `#anchor` resolves (GitHub's anchor rules), every page is on the
front page's map, and the sessions docs/rules.md and docs/commands.md show (`dwtrigger emulator`'s announcement
included) are what the commands print, run as a reader runs them (tests/sessions.py). docs/try-it.md is held by
tests/test_walkthrough.py, the board by tests/test_board.py, the receiver's check by tests/receivers.py, the SLS dry
run by tests/test_logs.py, docs/http.md's callers and sessions here; the rest of the pages' code blocks are rules, policies and cloud commands that need a real
account (held where they can be: the runbook's YAML by tests/test_deploy.py, its policies by tests/test_ram.py)."""
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import ROOT, Harness
from fc_http import HttpTrigger
from sessions import CLEAN, DOCS, blocks, emulator, emulator_swaps, page, replay, session, sessions, undone

PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^```.*?^```$", re.S | re.M)


def slugs(text: str) -> List[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation but `-` and `_` dropped, spaces to `-`,
    a repeated one numbered (-1, -2, ...)."""
    seen: Dict[str, int] = {}
    found = []
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", FENCE.sub("", text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.append(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def links(text: str) -> List[str]:
    """Every link target of a page's prose (not of its code)."""
    prose = re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))
    return re.findall(r"\]\(([^)\s]+)\)", prose)


def test_github_anchors_are_what_github_makes_them():
    assert slugs("# The day's board: `dwtrigger status` and `status_page`\n## 5. Watch outcomes in SLS\n"
                 "```\n# not a heading\n```\n## Load: `bench/reliability.py`\n## Load: `bench/reliability.py`\n") == [
        "the-days-board-dwtrigger-status-and-status_page", "5-watch-outcomes-in-sls", "load-benchreliabilitypy",
        "load-benchreliabilitypy-1"]


@pytest.mark.parametrize("source", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(source: Path):
    broken = []
    for target in links(source.read_text()):
        if re.match(r"[a-z]+:", target):
            continue                                         # https:, mailto: - not ours to check
        path, _, anchor = target.partition("#")
        linked = (source.parent / path).resolve() if path else source
        if not linked.exists():
            broken.append(f"{target}: no {linked.relative_to(ROOT)}")
        elif anchor and anchor not in slugs(linked.read_text()):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(ROOT)}")
    assert broken == []


def test_the_front_page_maps_every_page_and_names_the_two_commands():
    front = (ROOT / "README.md").read_text()
    assert {target for target in links(front) if "#" not in target} >= {
        f"docs/{path.name}" for path in DOCS.glob("*.md")}
    assert "make demo" in front and "make test" in front


def test_only_pages_whose_sessions_a_test_runs_show_sessions():
    """A page that starts showing a command and its output needs a test that runs it (and a line here)."""
    held = {"rules.md": "here", "commands.md": "here", "http.md": "here", "try-it.md": "test_walkthrough.py",
            "sweep.md": "test_board.py"}
    assert {path.name for path in PAGES if sessions(path.read_text())} == set(held)


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """A directory the sessions ran in: the repository's rules.yaml and events/."""
    (tmp_path / "events").symlink_to(ROOT / "events")
    (tmp_path / "rules.yaml").write_bytes((ROOT / "rules.yaml").read_bytes())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_rules_page_shows_what_validate_says_of_two_typos(checkout):
    """Its example: finance-close's zone misspelt, and `nod` for nightly's `node`."""
    rules = checkout / "rules.yaml"
    rules.write_text(rules.read_text().replace("timezone: Europe/Berlin", "timezone: Europe/Berln")
                     .replace("node: 700001235000}", "node: 700001235000, nod: 1}"))
    [step] = [step for step in session(page("rules.md")) if step[0].startswith("dwtrigger validate")]
    replay([step], CLEAN, checkout, {})


def test_the_command_line_page_sessions_reproduce_byte_for_byte(checkout, refused):
    """Offline first, then against a fresh `dwtrigger emulator` (what it says when it starts, as the page shows it),
    doctor last; the page's closed port 8756 is a closed port here too."""
    steps = session(page("commands.md"))
    [started] = [shown for command, shown in steps if command == "dwtrigger emulator"]
    assert len(steps) > 15 and any(command.startswith("dwtrigger doctor") for command, _ in steps)
    with emulator() as proc:
        swaps = {**emulator_swaps(proc.port), "127.0.0.1:8756": refused}
        assert undone("".join(proc.said), swaps).splitlines() == started
        replay([step for step in steps if step[0] != "dwtrigger emulator"], CLEAN, checkout, swaps)


def test_the_http_page_sessions_reproduce_byte_for_byte(checkout):
    """`dwtrigger sign` offline, then its events replayed through the http function against a fresh emulator."""
    steps = session(page("http.md"))
    assert [command.split()[1] for command, _ in steps if command.startswith("dwtrigger")] == [
        "sign", "sign", "sign", "sign", "replay"]
    with emulator() as proc:
        replay(steps, CLEAN, checkout, emulator_swaps(proc.port))


@pytest.fixture
def http_trigger(emulator, oss_standin):
    """The http function (the checkout's rules, the demo caller's secret) behind a local FC HTTP trigger, on this
    machine's clock as the callers' timestamps are."""
    h = Harness(emulator, None, {"DWTRIGGER_AIRFLOW_SECRET": DEMO_SECRET}, None, oss=oss_standin)
    h.runtime.wall_clock = lambda: datetime.now(timezone.utc)
    trigger = HttpTrigger(lambda event: h.handle("http", event))
    yield trigger
    trigger.close()


DEMO_SECRET = "demo-http-secret-not-for-production"


def test_the_http_pages_callers_are_answered_by_the_function(http_trigger):
    """The Python caller releases, curl's same call is decided again, and either signing with another secret gets
    401 (the Python caller exits 1, curl 22)."""
    [python] = ["\n".join(lines) for info, lines in blocks(page("http.md")) if info == "python"]
    [shell] = ["\n".join(lines) for info, lines in blocks(page("http.md")) if info == "sh"]
    env = {**{k: v for k, v in os.environ.items() if k not in CLEAN}, "DWTRIGGER_URL": http_trigger.url}

    def called(secret: str, *command: str):
        done = subprocess.run(command, env={**env, "DWTRIGGER_AIRFLOW_SECRET": secret}, capture_output=True,
                              text=True, timeout=60)
        return done.returncode, done.stdout, done.stderr

    status, said, _ = called(DEMO_SECRET, sys.executable, "-c", python)
    assert (status, said[:4]) == (0, "200 ")
    assert [d["outcome"] for d in json.loads(said[4:])["outcomes"]] == ["triggered"]
    status, said, _ = called(DEMO_SECRET, "bash", "-c", shell)
    assert status == 0 and [d["outcome"] for d in json.loads(said)["outcomes"]] == ["already_triggered"]
    refused = {"error": "the signature does not match (caller 'airflow': sign METHOD, PATH, X-Dwtrigger-Timestamp "
                        "and the body with its secret)"}
    status, _, error = called("another", sys.executable, "-c", python)
    assert (status, error[:4], json.loads(error[4:])) == (1, "401 ", refused)
    status, said, _ = called("another", "bash", "-c", shell)
    assert (status, json.loads(said)) == (22, refused)
