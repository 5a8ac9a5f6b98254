"""`dwtrigger rules`: every rule of a rules file (source, nodes, `expect`, `require`, enabled) without reading YAML.

A table for a person, one line a rule in file order, disabled rules included; `--json` for a program. The file is
loaded as the functions load it, so a broken one exits 1 with validate's messages (cli.py's group says them).
"""
from __future__ import annotations

import json
from typing import List

import click

from .. import sources
from ..rule import Rule
from ..rules import load_rules

# The rules file as an argument (validate's and this command's), DWTRIGGER_RULES else rules.yaml.
rules_argument = click.argument("rules", default="rules.yaml", envvar="DWTRIGGER_RULES",
                                type=click.Path(dir_okay=False))
_COLUMNS = ("RULE", "STATE", "SOURCE", "WORKSPACE/NODE", "API", "EXPECT", "REQUIRE")


@click.command("rules")
@rules_argument
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: a list, one object a rule.")
def rules(rules, as_json):
    """List every rule of RULES in file order: its source (OSS bucket and key, MNS topic or queue, timer), nodes
    and API, `expect`, `require` entries, and whether it is enabled. Exit 1 with validate's messages if the file
    is broken."""
    ruleset = load_rules(rules)
    listed = sorted([(rule, True) for rule in ruleset.rules] + [(rule, False) for rule in ruleset.disabled],
                    key=lambda pair: pair[0].line or 0)
    if as_json:
        click.echo(json.dumps([_entry(rule, enabled) for rule, enabled in listed], indent=2))
        return
    rows = [_COLUMNS] + [_row(rule, enabled) for rule, enabled in listed]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
    click.echo("\n".join("  ".join([cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]])
                         for row in rows))


def _row(rule: Rule, enabled: bool) -> List[str]:
    nodes = ", ".join(f"{target.workspace}/{target.node}" for target in rule.trigger)
    expect = f"by {rule.expect.by:%H:%M}, {rule.expect.days} days" if rule.expect else "-"
    required = len(getattr(rule, "require", ()))
    return [rule.name, "enabled" if enabled else "disabled", sources.get(rule.on).summary(rule), nodes, rule.api,
            expect, str(required) if required else "-"]


def _required(rule: Rule) -> List[str]:
    """The rule's `require` entries as written (a timer rule's without oss:// are in its `bucket`)."""
    return [f"oss://{entry.bucket}/{entry.key.source}" if entry.bucket else entry.key.source
            for entry in getattr(rule, "require", ())]


def _entry(rule: Rule, enabled: bool) -> dict:
    source = sources.get(rule.on).listed(rule)
    return {"name": rule.name, "line": rule.line, "enabled": enabled, "on": rule.on, **source,
            "trigger": [{"workspace": t.workspace, "node": t.node, "at": f"{t.at:%H:%M}" if t.at else None,
                         "lookup": t.lookup} for t in rule.trigger],
            "api": rule.api, "env": rule.env, "timezone": str(rule.timezone), "region": rule.region,
            "endpoint": rule.endpoint,
            "expect": {"by": f"{rule.expect.by:%H:%M}", "days": rule.expect.days} if rule.expect else None,
            "require": _required(rule), "ledger": str(rule.ledger) if rule.ledger else None}
