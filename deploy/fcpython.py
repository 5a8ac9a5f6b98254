"""Where this machine has FC's Python: the one definition `make test` (its second venv) and `make package` (its
bytecode, deploy/package.py) both use, so a package never ships without bytecode where the suite found the runtime.

python3.X on PATH, else the newest 3.X.* under pyenv (PYENV_ROOT, else ~/.pyenv); each must run and be 3.X: pyenv's
shims are on PATH for versions that are not selected too, and fail when run. Standard library only: the Makefile
runs it with any python3, before a venv exists. `python deploy/fcpython.py 3.12` prints the path, or nothing.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Mapping, Optional


def find(version: str, environ: Mapping[str, str] = os.environ) -> Optional[str]:
    """The first interpreter of `version` (e.g. "3.12") that runs as one, or None."""
    return next((candidate for candidate in _candidates(version, environ) if runs_as(candidate, version)), None)


def runs_as(interpreter: str, version: str) -> bool:
    """Whether `interpreter` runs, as Python `version`."""
    probe = f"import sys; sys.exit('%d.%d' % sys.version_info[:2] != '{version}')"
    try:
        return subprocess.run([interpreter, "-c", probe], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _candidates(version: str, environ: Mapping[str, str]) -> Iterator[str]:
    on_path = shutil.which(f"python{version}", path=environ.get("PATH", os.defpath))
    if on_path:
        yield on_path
    root = Path(environ.get("PYENV_ROOT") or Path(environ.get("HOME") or "~").expanduser() / ".pyenv")
    release = re.compile(rf"{re.escape(version)}\.(\d+)")             # 3.12.4, not 3.12-dev
    installed = {int(m[1]): d for d in (root / "versions").glob(f"{version}.*") if (m := release.fullmatch(d.name))}
    for _, directory in sorted(installed.items(), reverse=True):
        yield str(directory / "bin" / f"python{version}")


if __name__ == "__main__":
    print(find(sys.argv[1]) or "")
