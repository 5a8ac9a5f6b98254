"""Build one self-contained Function Compute code package per function: build/<fn>/ and build/<fn>.zip.

Each holds the handler (index.py), the dwtrigger package without its operator-only folder (dwtrigger/ops), rules.yaml and
the runtime lock (requirements/runtime.txt) installed for FC's platform (Linux x86_64, the target CPython,
binary wheels only) whatever Python and OS run this script. FC's code directory is read-only, so bytecode is
compiled here (unchecked-hash .pyc) by an interpreter of the target version, or skipped with a warning when
there is none. Nothing is built from a rules file that does not validate, or that s.yaml's triggers and it do not
agree on (deploy/wiring.py): a broken rule would otherwise ship and fail in the instance initializer, a rule no
trigger feeds would never see an event. A trigger kept for a disabled rule is only a warning: switching a rule off
must not stop a deployment. Runs in the dev venv (`make package`, which has dwtrigger and PyYAML):
`python deploy/package.py --python 3.12 --out build`.
"""
from __future__ import annotations

import argparse
import operator
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import fcpython                 # deploy/fcpython.py and wiring.py: this script's directory is first on sys.path
import wiring

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "runtime.txt"
FUNCTIONS = tuple(sorted(d.name for d in (ROOT / "functions").iterdir() if (d / "index.py").is_file()))
PLATFORM = "manylinux2014_x86_64"           # glibc 2.17+: every FC Python runtime image satisfies it
OPERATOR_ONLY = "ops"          # dwtrigger/ops/: the command line, emulator and tools; no handler imports them
_MARKER = re.compile(r"""\s*python_version\s*(<=|>=|==|!=|<|>)\s*["'](\d+(?:\.\d+)*)["']\s*""")
_COMPARE = {"<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">=": operator.ge,
            ">": operator.gt}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def version_tuple(version: str) -> tuple:
    return tuple(int(part) for part in version.split("."))


def lock(python: str) -> list[str]:
    """The lock's `name==version` pins that apply on `python`: pip would judge markers by the Python running it."""
    pins = []
    for line in LOCK.read_text().splitlines():
        requirement, _, marker = line.split("#")[0].partition(";")
        if marker:
            parsed = _MARKER.fullmatch(marker)
            if not parsed:
                raise SystemExit(f"{LOCK}: only python_version markers are supported: {line}")
            if not _COMPARE[parsed[1]](version_tuple(python), version_tuple(parsed[2])):
                continue
        if requirement.strip():
            pins.append(requirement.strip())
    return pins


def install_args(python: str, target: Path) -> list[str]:
    """`pip install` arguments for the lock on FC: binary wheels for CPython `python` on Linux x86_64. The lock is
    a full closure, so --no-deps: pip would judge its dependencies' markers by the Python running it, not the
    target (a 3.12 package built on 3.10 would gain 3.10-only packages)."""
    return ["install", "-q", "--disable-pip-version-check", "--target", str(target), "--no-compile", "--no-deps",
            "--only-binary=:all:", "--platform", PLATFORM, "--implementation", "cp", "--python-version", python,
            "--abi", "cp" + python.replace(".", ""), *lock(python)]


def bytecode_compiler(python: str, interpreter: str | None) -> str | None:
    """An interpreter of the target version: given, else found as `make test` finds FC's (deploy/fcpython.py), else
    this one; None, with a warning, if none."""
    if interpreter is None:
        interpreter = fcpython.find(python) or (sys.executable if "%d.%d" % sys.version_info[:2] == python else None)
    if interpreter and fcpython.runs_as(interpreter, python):
        return interpreter
    print(f"warning: no python{python} found (pass --interpreter): the packages ship without bytecode, so every "
          f"cold start compiles the dependencies from source", file=sys.stderr)
    return None


def compile_bytecode(compiler: str, paths: list[Path]) -> None:
    """.pyc that are never checked against their source: the deployed code cannot change."""
    subprocess.run([compiler, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                    *map(str, paths)], check=True)


def assemble(fn: str, deps: Path, out: Path, rules: Path) -> Path:
    code = out / fn
    shutil.copytree(deps, code, copy_function=_link)
    shutil.copy2(ROOT / "functions" / fn / "index.py", code / "index.py")
    shutil.copytree(ROOT / "shared" / "dwtrigger", code / "dwtrigger",
                    ignore=_leave_out)
    shutil.copy2(rules, code / "rules.yaml")
    return code


def _leave_out(directory: str, names: list[str]) -> set[str]:
    """Bytecode caches anywhere, and the operator-only folder at the package's top."""
    top = Path(directory) == ROOT / "shared" / "dwtrigger"
    return {n for n in names if n == "__pycache__" or (top and n == OPERATOR_ONLY)}


def _link(source: str, copy: str) -> None:
    """The dependencies, the same in every package and never changed once built: hard-linked where the file system
    allows it (eight copies of ~70 MB were a third of the build), else copied."""
    try:
        os.link(source, copy)
    except OSError:
        shutil.copy2(source, copy)


def zip_dirs(codes: dict[str, Path], deps: Path) -> None:
    """<fn>.zip beside each code directory. The dependencies are compressed once, into an archive each function's
    starts as a copy of; then its own files (handler, dwtrigger, rules, their bytecode) are added."""
    common = deps.with_suffix(".zip")
    _zip(common, deps, "w", _files(deps))
    shared = {p.relative_to(deps) for p in _files(deps)}
    for code in codes.values():
        archive = code.with_suffix(".zip")
        shutil.copyfile(common, archive)
        _zip(archive, code, "a", [p for p in _files(code) if p.relative_to(code) not in shared])
    common.unlink()


def _files(top: Path) -> list[Path]:
    return sorted(p for p in top.rglob("*") if p.is_file())


def _zip(archive: Path, top: Path, mode: str, files: list[Path]) -> None:
    with zipfile.ZipFile(archive, mode, zipfile.ZIP_DEFLATED) as z:
        for path in files:
            z.write(path, path.relative_to(top).as_posix())


def size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(python: str, out: Path, interpreter: str | None = None,
          rules: Path = ROOT / "rules.yaml") -> dict[str, Path]:
    """The code directory of each function (its zip beside it)."""
    deps = out / ".deps"
    for stale in (deps, *(out / fn for fn in FUNCTIONS)):
        shutil.rmtree(stale, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", *install_args(python, deps)], check=True)
    shutil.rmtree(deps / "bin", ignore_errors=True)     # console scripts: nothing runs them on FC
    compiler = bytecode_compiler(python, interpreter)
    if compiler:
        compile_bytecode(compiler, [deps])               # once: every package copies it
    codes = {fn: assemble(fn, deps, out, rules) for fn in FUNCTIONS}
    if compiler:
        compile_bytecode(compiler, [p for code in codes.values() for p in (code / "index.py", code / "dwtrigger")])
    zip_dirs(codes, deps)
    for fn, code in codes.items():
        archive = code.with_suffix(".zip")
        print(f"{fn}: {code} {size(code) / 1e6:.1f} MB, {archive} {size(archive) / 1e6:.1f} MB")
    return codes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.12", help="the FC runtime's Python version (default 3.12)")
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="output directory (default build/)")
    parser.add_argument("--interpreter", help="a python of that version to compile bytecode with")
    parser.add_argument("--rules", type=Path, default=ROOT / "rules.yaml", help="the rules file to ship "
                        "(default rules.yaml)")
    parser.add_argument("--template", type=Path, default=ROOT / "s.yaml", help="the Serverless Devs template "
                        "whose triggers must feed every rule (default s.yaml)")
    args = parser.parse_args(argv)
    problems, warnings = wiring.refusals(args.rules, args.template)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        raise SystemExit(f"refusing to build: {len(problems)} problem(s) with {args.rules} and {args.template}")
    build(args.python, args.out, args.interpreter, args.rules)


if __name__ == "__main__":
    main()
