"""`make test`'s progress (tests/progress.py), seen as make sees it: a suite run with a descriptor to say it on says
how far it is there, whole lines only, and a last line when done; pytest's own output is as it was, its closing
summary line last."""
import os
import re
import subprocess
import sys

from conftest import ROOT


def test_a_suite_says_how_far_it_is_on_the_descriptor_make_hands_it_and_nowhere_else():
    said, told = os.pipe()
    env = {**os.environ, "DWTRIGGER_TEST_PROGRESS": str(told), "DWTRIGGER_TEST_PROGRESS_S": "0"}   # after every test
    with os.fdopen(said, "rb") as progress:
        try:
            suite = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_recent.py"],
                                   cwd=ROOT, env=env, pass_fds=(told,), capture_output=True, text=True, timeout=300)
        finally:
            os.close(told)
        lines = progress.read().decode().splitlines()
    assert suite.returncode == 0, suite.stdout
    version, n = "%d.%d" % sys.version_info[:2], len(re.findall(r"^def test_", (ROOT / "tests/test_recent.py")
                                                                       .read_text(), re.M))
    assert [re.sub(r"\d+m\d\ds", "#m##s", line) for line in lines] == [
        f"python {version}: {i}/{n} tests, #m##s" for i in range(1, n + 1)] + [
        f"python {version}: {n}/{n} tests, #m##s, done"]
    assert "tests, " not in suite.stdout + suite.stderr
    assert re.fullmatch(rf"{n} passed in [0-9.]+s", suite.stdout.splitlines()[-1])
