"""The mutation check's wiring (tests/mutants.py): every guard it mutates is in the code exactly once and every test
it names is defined where it says. The check itself takes minutes (`make mutants`); this costs a second, so a
change that rewrites a guard or renames its test is told so by the suite, not by the next mutation run."""
import re
import subprocess
import sys

from conftest import ROOT


def test_every_guard_the_mutation_check_names_is_in_the_code_once_and_every_test_it_names_exists():
    done = subprocess.run([sys.executable, "tests/mutants.py", "--list"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stderr) == (0, ""), done.stdout + done.stderr
    lines = done.stdout.splitlines()                   # one a mutant: its name, its guard's module, its tests
    shape = re.compile(r": (shared/dwtrigger|deploy)/\S+\.py -> test_\w+\.py::")
    assert lines and [line for line in lines if not shape.search(line)] == []
