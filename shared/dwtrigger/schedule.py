"""Which DataWorks instance an event names: business date and scheduled (cycle) time, in the workspace zone.

DataWorks' BizDate is epoch ms of the business date's midnight and CycleTime epoch ms of the instance's
scheduled wall-clock time, both read in the workspace's scheduling time zone — never UTC, never the
function's local zone. The business date is the day before the instance's scheduled date.

A rule's `bizdate_offset` moves the date it reads (a capture or a message field) by whole days to the business
date; its templates keep naming files by the date as read (`written`).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, Mapping, Optional

from zoneinfo import ZoneInfo

import msgspec

from .dataworks import epoch_ms
from .events import NOT_JSON, Event, iso_time
from . import sources
from .rule import FieldSpec, Rule, Target

ONE_DAY = timedelta(days=1)
EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 30)   # epoch ms; the cycle day after LATEST still exists
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# The event kind of `dwtrigger trigger` (app.release_by_hand): its captures are the business date itself.
BY_HAND = "manual"


class ScheduleError(ValueError):
    """The event matched but does not say which instance (e.g. the date field is missing or malformed)."""


class Schedule(msgspec.Struct, frozen=True):
    biz_date: date
    cycle: Optional[datetime]    # aware, in the workspace zone; None = let the look-up decide
    zone: ZoneInfo

    @property
    def biz_date_ms(self) -> int:
        return epoch_ms(datetime(self.biz_date.year, self.biz_date.month, self.biz_date.day, tzinfo=self.zone))

    @property
    def cycle_ms(self) -> Optional[int]:
        return epoch_ms(self.cycle) if self.cycle else None


def resolve(rule: Rule, target: Target, captures: Mapping[str, Any], event: Event) -> Schedule:
    """Business date and (when known) cycle time, from the first of: a {bizdate} capture, a {cycle} capture,
    a date field of the JSON message or timer payload, else the event's own time."""
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
    days = rule.bizdate_offset if event.kind != BY_HAND else 0
    cycle: Optional[datetime] = None
    if "bizdate" in captures:
        biz_date = _moved(captures["bizdate"], days)
    elif "cycle" in captures:
        cycle = _scheduled(captures["cycle"], days, zone)
        biz_date = cycle.date() - ONE_DAY
    elif (date_field := sources.get(rule.on).date_field(rule)) is not None:
        value = _read_field(date_field, event, zone)
        if date_field.is_cycle:
            cycle = _scheduled(value, days, zone)
            biz_date = cycle.date() - ONE_DAY
        else:
            biz_date = _moved(value.date(), days)
    elif event.undated:
        raise ScheduleError(f"the message carries no time of its own (MNS STREAM format), and rule "
                            f"'{rule.name}' dates what it takes by its time: the time it was received would name "
                            "another business date when FC retries it or it is replayed after midnight. Give the rule "
                            "a `bizdate:` or `cycle:` field, or set the topic trigger's notifyContentFormat to JSON "
                            "(it carries the publish time)")
    else:
        biz_date = event.time.astimezone(zone).date() - ONE_DAY
    if cycle is None and target.at is not None:
        cycle = datetime.combine(biz_date + ONE_DAY, target.at, tzinfo=zone)
    return Schedule(biz_date, cycle, zone)


def written(rule: Rule, schedule: Schedule) -> Dict[str, Any]:
    """What `{bizdate}` and `{cycle}` stand for in the rule's key and `require` templates: the dates as the
    upstream writes them, i.e. the business date (and scheduled time) less the rule's `bizdate_offset`."""
    days = -rule.bizdate_offset
    values: Dict[str, Any] = {"bizdate": _moved(schedule.biz_date, days)}
    if schedule.cycle is not None:
        values["cycle"] = _scheduled(schedule.cycle, days, schedule.zone)
    return values


def _moved(day: date, days: int) -> date:
    return day + timedelta(days=days) if days else day


def _scheduled(moment: datetime, days: int, zone: ZoneInfo) -> datetime:
    """A scheduled time in `zone`, `days` later on the wall clock. A naive moment is a wall-clock time there; an
    aware one an instant, which keeps its own side of a DST fold unless it moves."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
        if not days:
            return moment
        moment = moment.replace(tzinfo=None)
    return (moment + timedelta(days=days) if days else moment).replace(tzinfo=zone)


def _read_field(spec: FieldSpec, event: Event, zone: ZoneInfo) -> datetime:
    """The field's value: a wall-clock time (strptime formats) or an instant in `zone` (INSTANT_FORMATS)."""
    where = sources.get(event.source).document
    field = ".".join(spec.path)
    value: Any = event.document
    if value is NOT_JSON:
        raise ScheduleError(f"the {where} is not JSON, so field '{field}' cannot give the date")
    for part in spec.path:
        if not isinstance(value, dict) or part not in value:
            raise ScheduleError(f"the {where} has no field '{field}'")
        value = value[part]
    instant = _INSTANTS.get(spec.format)
    if instant is not None:
        try:
            return instant(value).astimezone(zone)
        except ValueError as e:             # an OverflowError is resolve's: out of range
            raise ScheduleError(f"field '{field}' of the {where} is {str(value)[:40]!r}: {e}") from None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)        # e.g. "bizdate": 20260310 written as a number
    if not isinstance(value, str):
        raise ScheduleError(f"field '{field}' of the {where} must be a string in format {spec.format!r}")
    try:
        return datetime.strptime(value, spec.format)
    except ValueError:
        raise ScheduleError(f"field '{field}' of the {where} is {value[:40]!r}, not in format {spec.format!r}") from None


def _epoch(per_second: int):
    def read(value: Any) -> datetime:
        """Epoch milliseconds or seconds: a JSON number (seconds may have a fraction) or a string of digits."""
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,20}", value):
            value = int(value)
        if isinstance(value, float) and per_second == 1 and value == value:
            return EPOCH + timedelta(microseconds=round(value * 1_000_000))
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"not epoch {'milli' if per_second == 1000 else ''}seconds (a whole number)")
        return EPOCH + timedelta(milliseconds=value) if per_second == 1000 else EPOCH + timedelta(seconds=value)
    return read


def _iso(value: Any) -> datetime:
    moment = iso_time(value) if isinstance(value, str) else None
    if moment is None:
        raise ValueError("not an ISO 8601 date-time (e.g. 2026-03-11T00:30:00+08:00)")
    if moment.tzinfo is None:
        raise ValueError("an ISO 8601 time without a UTC offset (Z or +08:00): `format: iso` reads instants only; "
                         "for a wall-clock time in the rule's time zone use a strptime format, e.g. "
                         "\"%Y-%m-%dT%H:%M:%S\"")
    return moment


_INSTANTS = {"epoch_ms": _epoch(1000), "epoch_s": _epoch(1), "iso": _iso}
