"""A realistic day for the board's tests (tests/test_board.py, tests/test_status.py, the browser test): on the
emulator's clock, files land for business date 2026-03-11, the sweep runs at 00:40 on the 12th and releases
`orders`, sends `held`'s trigger early (its parents still run: DataWorks holds it), and at 09:00 `late` (due 06:00)
has no files — overdue — while `later` (due 12:00) waits for them (`hostile`: one of them there, its key markup)."""
from contextlib import contextmanager
from pathlib import Path

import yaml

from conftest import BUCKETS, ROLE_KEY, WORLD
from dwtrigger import app
from dwtrigger.ops import fc
from dwtrigger.ops.emulator import Emulator, OssStandIn
from dwtrigger.outcomes import DecisionLog
from dwtrigger.rules import parse_rules

NOW = "2026-03-12T09:00:00+08:00"
BIZ = "2026-03-11"
ORDERS, HELD, LATE, LATER = 700001234567, 700001300002, 700001235300, 700001235100
HOSTILE = "<img src=http:127.0.0.1:{port}>"       # a {table} in an object key that would fetch, were it markup

RULES = """\
version: 1
defaults: {{timezone: Asia/Shanghai, region: cn-shanghai, ledger: "oss://etl-ledger/dwtrigger/"{page}}}
rules:
  - {{name: orders, on: oss, bucket: etl-landing, key: "exports/orders/dt={{bizdate:%Y-%m-%d}}/_SUCCESS",
     require: ["exports/orders/dt={{bizdate:%Y-%m-%d}}/*"], expect: {{by: "06:00", days: 1}},
     trigger: [{{workspace: 10001, node: {orders}, at: "00:30"}}]}}
  - {{name: held, on: oss, bucket: etl-landing, key: "exports/held/dt={{bizdate:%Y-%m-%d}}/_SUCCESS",
     expect: {{by: "06:00", days: 1}}, trigger: [{{workspace: 10001, node: {held}, at: "00:30"}}]}}
  - {{name: late, on: oss, bucket: etl-landing, key: "exports/late/dt={{bizdate:%Y-%m-%d}}/_SUCCESS",
     expect: {{by: "06:00", days: 1}}, trigger: [{{workspace: 10001, node: {late}, at: "01:00"}}]}}
  - {{name: later, on: oss, bucket: etl-landing, key: "exports/later/dt={{bizdate:%Y-%m-%d}}/{{table}}.ok",
     require: ["exports/later/dt={{bizdate:%Y-%m-%d}}/{{table}}.csv"], expect: {{by: "12:00", days: 1}},
     trigger: [{{workspace: 10001, node: {later}, at: "03:00"}}]}}
"""


def rules_text(page: str = "") -> str:
    return RULES.format(page=f', status_page: "{page}"' if page else "", orders=ORDERS, held=HELD, late=LATE,
                        later=LATER)


class Day:
    def __init__(self, emu: Emulator, oss: OssStandIn, path: Path):
        self.emu, self.oss, self.path = emu, oss, path
        self.env = {**ROLE_KEY, "DWTRIGGER_ENDPOINT": emu.endpoint, "DWTRIGGER_PROTOCOL": "http",
                    "DWTRIGGER_OSS_ENDPOINT": oss.endpoint, "DWTRIGGER_RULES": str(path)}

    def at(self, when: str) -> None:
        self.emu.clock.set(when)

    def sweep(self, log=None):
        runtime = app.Runtime(parse_rules(self.path.read_text(), str(self.path)), environ=self.env,
                              wall_clock=self.emu.clock.now, log=log or DecisionLog(stream=open("/dev/null", "w")))
        return runtime.sweep(fc.context_for("sweep", timeout=60))


@contextmanager
def day(tmp: Path, page: str = "", hostile: bool = False, listener_port: int = 9):
    """The day as of 09:00, its sweep run at 00:40 (the board's page published there with `page`)."""
    keys = yaml.safe_load(WORLD.read_text())["keys"]
    with Emulator(WORLD) as emu, OssStandIn({"keys": keys, "buckets": [{"name": b} for b in BUCKETS]},
                                            clock=emu.clock.now) as oss:
        path = tmp / "rules.yaml"
        path.write_text(rules_text(page))
        d = Day(emu, oss, path)
        d.at("2026-03-12T00:10:00+08:00")
        oss.put("etl-landing", f"exports/orders/dt={BIZ}/part-0.csv")
        oss.put("etl-landing", f"exports/orders/dt={BIZ}/_SUCCESS")
        if hostile:
            oss.put("etl-landing", f"exports/later/dt={BIZ}/" + HOSTILE.format(port=listener_port) + ".ok")
        d.at("2026-03-12T00:35:00+08:00")
        oss.put("etl-landing", f"exports/held/dt={BIZ}/_SUCCESS")
        d.at("2026-03-12T00:40:00+08:00")
        d.decisions, d.tally = d.sweep()
        d.at(NOW)
        yield d
