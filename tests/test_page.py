"""The board's page (dwtrigger.board.page): self-contained, every outside string escaped, and — in a real headless
Chromium (Debian's package; .ci/run installs it) — what it renders for a realistic day (board_day.py)."""
import html
import os
import re
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from board_day import BIZ, HOSTILE, NOW, day
from dwtrigger.board import SCHEMA, Board, File, Noticed, Row, Run, Send
from dwtrigger.board.page import CSP, render
from dwtrigger.ops.cli import main

EVIL = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


class Tags(HTMLParser):
    """Every start tag, with its attributes."""

    def __init__(self, text: str):
        super().__init__()
        self.tags = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def hostile_board() -> Board:
    row = Row("orders", 1, 2, BIZ, "Asia/Shanghai", "failed", EVIL, at=None, due="2026-03-12T06:00:00+08:00",
              evidence=f"oss://b/{EVIL}", missing=EVIL, files=[File(f"oss://b/{EVIL}", "2026-03-12T00:10:00+08:00")],
              sends=[Send(1, EVIL, "2026-03-12T00:30:00+08:00", sent_at="2026-03-12T00:40:00+08:00",
                          held_until="2026-03-13T00:40:00+08:00", status=EVIL)],
              notices=[Noticed("overdue", "2026-03-12T06:05:00+08:00", reason=EVIL, channels=[EVIL])],
              dataworks=EVIL, instance=Run(7, EVIL, "2026-03-12T00:30:00+08:00", "2026-03-12T00:41:00+08:00"))
    return Board(SCHEMA, "2026-03-12T01:00:00+00:00", [row], stopped=EVIL)


def test_every_string_from_outside_is_text_never_markup():
    page = render(hostile_board())
    tags = Tags(page).tags
    assert {tag for tag, _ in tags} <= {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "div",
                                        "span", "section", "small", "b", "i", "code", "footer"}
    assert not any(name.startswith("on") for _, attrs in tags for name in attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script" not in page


def test_the_page_fetches_nothing_its_policy_allows_nothing_but_inline_styles():
    page = render(hostile_board())
    [policy] = [attrs["content"] for tag, attrs in Tags(page).tags if attrs.get("http-equiv") ==
                "Content-Security-Policy"]
    assert policy == CSP and policy.startswith("default-src 'none'; style-src 'unsafe-inline'; img-src data:;")
    ours = page.replace(CSP, "").replace(html.escape(EVIL), "")
    assert not re.search(r"(?:src|href)=|url\(|@import|https?://", ours)


def test_times_are_said_in_the_workspace_zone_with_the_date_and_as_of():
    page = render(hostile_board())
    assert "as of 2026-03-12 09:00 Asia/Shanghai (UTC+08:00)" in page
    assert f"Business date {BIZ} · times in Asia/Shanghai (UTC+08:00)" in page
    assert "held until 03-13 00:40" in page and "sent 00:40" in page and "by 06:00" in page


# ---- in a real browser ------------------------------------------------------------------------------------

class _Counter(BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):                       # noqa: N802 - http.server's name
        self.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not on PATH: .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium); CI installs it")
    return found


def browse(tmp_path, url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
                           "--hide-scrollbars", "--window-size=1400,900", "--virtual-time-budget=2000", *args, url],
                          capture_output=True, text=True, timeout=90)


@pytest.mark.slow
def test_chromium_renders_the_days_rows_verdicts_and_timeline_and_fetches_nothing(tmp_path):
    listener = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        with day(tmp_path, hostile=True, listener_port=listener.server_port) as d:
            page = tmp_path / "board.html"
            result = CliRunner().invoke(main, ["status", "--rules", str(d.path), "--endpoint", d.emu.endpoint,
                                               "--protocol", "http", "--now", NOW, "--html", str(page)], env=d.env)
            assert result.exit_code == 1, result.output
        dom = browse(tmp_path, page.as_uri(), "--dump-dom")
        assert dom.returncode == 0, dom.stderr[-2000:]
        shot = browse(tmp_path, page.as_uri(), f"--screenshot={tmp_path / 'board.png'}")
        assert shot.returncode == 0 and (tmp_path / "board.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        listener.shutdown()
        listener.server_close()
    assert _Counter.hits == []                               # neither the hostile key nor anything else fetched
    tags = Tags(dom.stdout).tags
    assert not any(tag in ("img", "script", "link", "iframe") for tag, _ in tags)
    rows = [(a["data-rule"], a["data-verdict"]) for tag, a in tags if "data-verdict" in a]
    assert rows == [("orders", "released"), ("held", "waiting_for_time_or_parents"), ("late", "overdue"),
                    ("later", "waiting_for_files")]
    text = re.sub(r"<[^>]+>", " ", dom.stdout)
    assert HOSTILE.format(port=listener.server_port).replace("<", "&lt;").replace(">", "&gt;") in dom.stdout
    for said in ("released at 00:40", "landed 00:10", "sent 00:40", "ran 00:40 SUCCESS", "held until 03-13 00:40",
                 "by 06:00", "by 12:00", "as of 2026-03-12 09:00 Asia/Shanghai (UTC+08:00)"):
        assert said in text, said
    marks = {(a["data-kind"], a["style"]) for tag, a in tags if "data-kind" in a}
    # The section's line runs from 03-12 00:00 to 03-13 01:00 (the hold's end, on the hour): 25 hours.
    assert ("landed", "left:0.67%;top:14px") in marks                   # 00:10
    assert ("sent", "left:2.67%;top:32px") in marks                     # 00:40
    assert ("run", "left:2.67%;top:68px") in marks
    dues = [a["style"] for tag, a in tags if a.get("class") == "due"]
    assert dues == ["left:24.0%"] * 3 + ["left:48.0%"]                   # 06:00 thrice, 12:00
