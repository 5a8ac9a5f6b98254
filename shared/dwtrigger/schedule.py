"""Which DataWorks instance an event names: business date and scheduled (cycle) time, in the workspace zone.

DataWorks' BizDate is epoch ms of the business date's midnight and CycleTime epoch ms of the instance's
scheduled wall-clock time, both read in the workspace's scheduling time zone — never UTC, never the
function's local zone. The business date is the day before the instance's scheduled date.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Mapping, Optional
from zoneinfo import ZoneInfo

from .events import NOT_JSON, Event
from .rules import FieldSpec, MnsRule, Rule, Target, TimerRule

ONE_DAY = timedelta(days=1)
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 30)   # epoch ms; the cycle day after LATEST still exists


class ScheduleError(ValueError):
    """The event matched but does not say which instance (e.g. the date field is missing or malformed)."""


@dataclass(frozen=True)
class Schedule:
    biz_date: date
    cycle: Optional[datetime]    # aware, in the workspace zone; None = let the look-up decide
    zone: ZoneInfo

    @property
    def biz_date_ms(self) -> int:
        return epoch_ms(datetime(self.biz_date.year, self.biz_date.month, self.biz_date.day, tzinfo=self.zone))

    @property
    def cycle_ms(self) -> Optional[int]:
        return epoch_ms(self.cycle) if self.cycle else None


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def local(ms: int, zone: ZoneInfo) -> datetime:
    """DataWorks' epoch ms -> wall-clock time in the workspace zone."""
    return datetime.fromtimestamp(ms / 1000, zone)


def resolve(rule: Rule, target: Target, captures: Mapping[str, Any], event: Event) -> Schedule:
    """Business date and (when known) cycle time, in the order PRODUCT.md gives: a {bizdate} capture, a
    {cycle} capture, a date field of the JSON message or timer payload, else the event's own time."""
    try:
        schedule = _resolve(rule, target, captures, event)
    except OverflowError:            # the day before 0001-01-01 or after 9999-12-31
        schedule = None
    if schedule is None or not EARLIEST <= schedule.biz_date <= LATEST:
        raise ScheduleError(f"the event names a business date out of range (DataWorks' dates run from "
                            f"{EARLIEST} to {LATEST})")
    return schedule


def _resolve(rule: Rule, target: Target, captures: Mapping[str, Any], event: Event) -> Schedule:
    zone = rule.timezone
    cycle: Optional[datetime] = None
    if "bizdate" in captures:
        biz_date = captures["bizdate"]
    elif "cycle" in captures:
        cycle = captures["cycle"].replace(tzinfo=zone)
        biz_date = cycle.date() - ONE_DAY
    elif isinstance(rule, (MnsRule, TimerRule)) and rule.date_field is not None:   # OSS rules have none
        value = _read_field(rule.date_field, event)
        if rule.date_field.is_cycle:
            cycle = value.replace(tzinfo=zone)
            biz_date = cycle.date() - ONE_DAY
        else:
            biz_date = value.date()
    else:
        biz_date = event.time.astimezone(zone).date() - ONE_DAY
    if cycle is None and target.at is not None:
        cycle = datetime.combine(biz_date + ONE_DAY, target.at, tzinfo=zone)
    return Schedule(biz_date, cycle, zone)


def _read_field(spec: FieldSpec, event: Event) -> datetime:
    where = "message" if event.source == "mns" else "timer payload"
    field = ".".join(spec.path)
    value: Any = event.document
    if value is NOT_JSON:
        raise ScheduleError(f"the {where} is not JSON, so field '{field}' cannot give the date")
    for part in spec.path:
        if not isinstance(value, dict) or part not in value:
            raise ScheduleError(f"the {where} has no field '{field}'")
        value = value[part]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)        # e.g. "bizdate": 20260310 written as a number
    if not isinstance(value, str):
        raise ScheduleError(f"field '{field}' of the {where} must be a string in format {spec.format!r}")
    try:
        return datetime.strptime(value, spec.format)
    except ValueError:
        raise ScheduleError(f"field '{field}' of the {where} is {value[:40]!r}, not in format {spec.format!r}") from None
