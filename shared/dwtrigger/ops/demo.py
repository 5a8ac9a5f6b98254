"""`dwtrigger demo`: every sample in events/ through the real handlers and SDKs against the local DataWorks
emulator and OSS stand-in.

It needs a checkout (events/, functions/, rules.yaml): `checkout` finds the one the current directory is in, else
the one dwtrigger runs from, and says so when there is none. Each events/<dir>/expected.yaml says what each sample
must produce; the demo fails (exit 1) when one does not.
Before an OSS sample runs, the objects it reports land in the OSS stand-in, as they would before a notification,
so a rule that `require`s several files waits until the last one; a sample's `land:` puts objects there whose
events never came (the sweep's sample finds them). Decision log lines go to
build/demo/decisions.ndjson so the table stays readable; the demo leaves nothing else behind, and nothing at all
when it cannot finish (the environment and the handlers' runtime are restored on every path).
"""
from __future__ import annotations

import importlib.util
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo

import yaml

from .. import app, events, sources
from ..dataworks import local
from . import fc
from .emulator import DEFAULT_SEED, Emulator, OssStandIn
from .inputs import UNREADABLE, Unreadable, read
from ..outcomes import FAILED, REJECTED, WAITING_FILES, DecisionLog
from ..settings import Settings

BUCKETS = ("etl-landing", "etl-landing-backup")       # rules.yaml's
CHECKOUT = ("events", "functions", "rules.yaml")      # what the demo runs


def checkout(root: Optional[str], cwd: Path) -> Path:
    """The checkout to run: `root` as given, else the one `cwd` is in, else the one this package was loaded from."""
    if root is not None:
        path = Path(root).resolve()
        missing = [part for part in CHECKOUT if not (path / part).exists()]
        if missing:
            raise ValueError(f"{path} is not a dwtrigger checkout: it has no {', '.join(missing)}")
        return path
    for path in (cwd.resolve(), *cwd.resolve().parents, *Path(__file__).resolve().parents):
        if all((path / part).exists() for part in CHECKOUT):
            return path
    raise ValueError("the demo runs the samples of a dwtrigger checkout (events/, functions/, rules.yaml): run it "
                     "inside one, or pass --root PATH")


def load_expectations(events_dir: Path) -> Dict[Path, dict]:
    """{sample path: {"outcomes": [...], "env": {...}, "source": function or None (detected), "land": ["bucket/key"]}}
    from every expected.yaml under events/."""
    out: Dict[Path, dict] = {}
    for listing in sorted(events_dir.rglob("expected.yaml")):
        for name, spec in (yaml.safe_load(listing.read_text()) or {}).items():
            spec = {"outcomes": spec} if isinstance(spec, list) else spec
            out[listing.parent / name] = {"outcomes": list(spec["outcomes"]), "env": spec.get("env", {}),
                                          "source": spec.get("source"), "land": spec.get("land", [])}
    return out


def load_handlers(root: Path) -> Dict[str, object]:
    handlers = {}
    for index in sorted((root / "functions").glob("*/index.py")):
        source = index.parent.name
        spec = importlib.util.spec_from_file_location(f"dwtrigger_function_{source}", index)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        handlers[source] = module.handler
    return handlers


class KeptLog(DecisionLog):
    """The decision log that also keeps what it wrote: what a sample decided, whatever its handler answers (the
    outcomes, TriggerFailed, or an HTTP response)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.kept: List[dict] = []

    def write(self, d) -> None:
        super().write(d)
        self.kept.append(d.record())


def run_sample(handler, source: str, raw: bytes, env: Dict[str, str], runtime: app.Runtime) -> List[dict]:
    """One sample through its handler: the decisions it logged (`runtime.log` is a KeptLog). A sample's `env` is
    its own function's environment (a STREAM topic trigger's DWTRIGGER_MNS_TOPIC, a caller's secret): the
    handlers' runtime takes it with the settings it gives, as that function's instance reads them at start, and
    both are restored after."""
    saved, settings = {k: os.environ.get(k) for k in env}, runtime.settings
    os.environ.update(env)
    runtime.settings = Settings.read(os.environ)
    before = len(runtime.log.kept)
    try:
        handler(raw, fc.context_for(source))
    except app.TriggerFailed:
        pass
    finally:
        runtime.settings = settings
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return runtime.log.kept[before:]


def run(root: Path, echo=print, log_path: Optional[Path] = None) -> int:
    """Every sample under `root`; the decision log at `log_path` (default: build/demo/decisions.ndjson there)."""
    events_dir = root / "events"
    expectations = load_expectations(events_dir)
    log_path = log_path or root / "build" / "demo" / "decisions.ndjson"
    board_path = log_path.with_name("board.html")
    made = [d for d in (log_path.parent, log_path.parent.parent) if not d.exists()]   # removed if the demo fails
    saved = dict(os.environ)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        misses = _run(root, expectations, log_path, echo, board_path)
    except BaseException:
        log_path.unlink(missing_ok=True)
        board_path.unlink(missing_ok=True)
        for directory in made:
            directory.rmdir()
        raise
    finally:
        app.use_runtime(None)
        os.environ.clear()
        os.environ.update(saved)
    echo(f"\ndecision log: {log_path.relative_to(root) if root in log_path.parents else log_path}")
    echo(f"the day's board (open it in a browser): {board_path.relative_to(root) if root in board_path.parents else board_path}")
    for miss in misses:
        echo(f"UNEXPECTED {miss}")
    echo(f"{len(expectations) - len(misses)} of {len(expectations)} samples gave the expected outcomes")
    return 1 if misses else 0


def _run(root: Path, expectations: Dict[Path, dict], log_path: Path, echo, board_path: Path) -> List[str]:
    """Every sample through the handlers, then the board of the run at `board_path`; what did not give its
    expected outcomes."""
    events_dir = root / "events"
    seed = yaml.safe_load(DEFAULT_SEED.read_text())
    zones = {ws["id"]: ZoneInfo(ws["timezone"]) for ws in seed["workspaces"]}
    oss_seed = {"keys": seed["keys"], "buckets": [{"name": name} for name in BUCKETS]}
    with Emulator(DEFAULT_SEED) as emu, OssStandIn(oss_seed, clock=emu.clock.now) as oss, \
            open(log_path, "w") as log_file:
        key = seed["keys"][0]
        os.environ.update({"DWTRIGGER_ENDPOINT": emu.endpoint, "DWTRIGGER_PROTOCOL": "http",
                           "DWTRIGGER_OSS_ENDPOINT": oss.endpoint,
                           "DWTRIGGER_RULES": str(root / "rules.yaml"),
                           "ALIBABA_CLOUD_ACCESS_KEY_ID": key["access_key_id"],
                           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": key["access_key_secret"],
                           "ALIBABA_CLOUD_SECURITY_TOKEN": key.get("security_token") or ""})
        # The demo's world lives on the emulator's clock, so events without a time of their own agree with it.
        runtime = app.Runtime(app.load_rules(str(root / "rules.yaml")), wall_clock=emu.clock.now,
                              log=KeptLog(service="dwtrigger-demo", stream=log_file))
        app.use_runtime(runtime)
        handlers = load_handlers(root)
        rows, misses, reasons = [], [], []
        for path, spec in sorted(expectations.items()):
            got: List[str] = []
            for landed in spec["land"]:
                oss.put(*landed.split("/", 1))
            for item in read(str(path.relative_to(events_dir)), path.read_bytes(), spec["source"]):
                if isinstance(item, Unreadable):
                    got.append(UNREADABLE)
                    reasons.append(f"  {item.label}: {UNREADABLE}: {item.reason}")
                    continue
                _land(oss, item.function, item.raw)
                records = run_sample(handlers[item.function], item.function, item.raw, spec["env"], runtime)
                got += [r["outcome"] for r in records]
                rows += [_row(path.relative_to(events_dir), r) for r in records]
                reasons += [f"  {path.relative_to(events_dir)}: {r['outcome']}: {r['reason']}" for r in records
                            if r["outcome"] in (REJECTED, FAILED, WAITING_FILES)]
            if got != spec["outcomes"]:
                misses.append(f"{path.relative_to(root)}: expected {spec['outcomes']}, got {got}")
        _table(echo, ("sample", "rule", "node", "outcome", "biz_date (ms)", "cycle_time (ms)"), rows)
        echo("\nwhy:" if reasons else "")
        for line in reasons:
            echo(line)
        echo("")
        _table(echo, ("released by the emulator", "node", "instance", "cycle time", "triggers"),
               _released(emu, zones))
        _board(root, emu, board_path)
    return misses


def _board(root: Path, emu: Emulator, path: Path) -> None:
    """The page `dwtrigger status --html` writes, of the rules the demo ran, as the emulator's world stands now."""
    from .. import board
    from ..board import page

    runtime = app.Runtime(app.load_rules(str(root / "rules.yaml")), wall_clock=emu.clock.now)
    call, keys = runtime.invocation(fc.context_for("status"), time.monotonic())
    made = board.build(board.shown(runtime.rules), emu.clock.now(), call, board.Live(call, runtime.settings.sweep_qps),
                       times=True, scrub=keys.scrub)
    path.write_text(page.render(made), encoding="utf-8")


def _land(oss: OssStandIn, source: str, raw: bytes) -> None:
    """The objects an event reports as created (`Source.created`: an OSS event's), put where it says they are."""
    for event in events.parse(source, raw, datetime.now(timezone.utc)):
        created = sources.get(source).created(event) if isinstance(event, events.Event) else None
        if created and created[0] in BUCKETS:
            oss.put(*created)


def _row(sample: Path, r: dict) -> Tuple[str, ...]:
    biz = f"{r['biz_date']} ({r['biz_date_ms']})" if r["biz_date"] else "-"
    cycle = f"{r['cycle_time']} ({r['cycle_time_ms']})" if r["cycle_time"] else "-"
    return str(sample), r["rule"] or "-", str(r["node"] or "-"), r["outcome"], biz, cycle


def _released(emu: Emulator, zones: Dict[int, ZoneInfo]) -> List[Tuple[str, ...]]:
    rows = []
    for inst in emu.instances():
        if inst.get("Released"):
            zone = zones[inst["ProjectId"]]
            rows.append((f"workspace {inst['ProjectId']} (API {inst['Api']})", str(inst["NodeId"]),
                         str(inst["InstanceId"]),
                         local(inst["CycTime"], zone).isoformat(), str(inst["Triggers"])))
    return rows


def _table(echo, header: Tuple[str, ...], rows: List[Tuple[str, ...]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    for i, row in enumerate([header] + rows):
        echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            echo("  ".join("-" * w for w in widths))
