"""Schedules (EventBridge rules and EventBridge Scheduler): ``rate()`` and ``cron()`` expressions, the runner."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

from local.background_tasks import BackgroundTasks
from local.model import ScheduleSpec

log = logging.getLogger("local.schedules")

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {name: i + 1 for i, name in enumerate(_MONTH_NAMES)}
_DAYS = {name: i + 1 for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}


class ScheduleExpressionError(ValueError):
    pass


def rate_seconds(expression: str) -> float | None:
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """Values a cron field allows; ``None`` for ``*``/``?`` (anything)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if step != 1 else start
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleExpressionError(f"unsupported cron value {text!r} (L, W and # are not emulated)")
    return int(text)


class Cron:
    """AWS's six-field cron: minutes hours day-of-month month day-of-week year (UTC)."""

    def __init__(self, expression: str) -> None:
        match = _CRON.match(expression.strip())
        if match is None:
            raise ScheduleExpressionError(f"not a cron expression: {expression!r}")
        fields = match.group(1).split()
        if len(fields) != 6:
            raise ScheduleExpressionError(f"cron needs 6 fields: {expression!r}")
        self.minutes = _field(fields[0], 0, 59)
        self.hours = _field(fields[1], 0, 23)
        self.days = _field(fields[2], 1, 31)
        self.months = _field(fields[3], 1, 12, _MONTHS)
        self.weekdays = _field(fields[4], 1, 7, _DAYS)
        self.years = _field(fields[5], 1970, 2199)

    def _day_ok(self, moment: datetime) -> bool:
        weekday = (moment.isoweekday() % 7) + 1  # SUN=1 … SAT=7
        return (
            (self.years is None or moment.year in self.years)
            and (self.months is None or moment.month in self.months)
            and (self.days is None or moment.day in self.days)
            and (self.weekdays is None or weekday in self.weekdays)
        )

    def next_after(self, after: datetime) -> datetime | None:
        moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = after + timedelta(days=366 * 5)
        while moment <= limit:
            if not self._day_ok(moment):
                moment = (moment + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if self.hours is not None and moment.hour not in self.hours:
                moment = (moment + timedelta(hours=1)).replace(minute=0)
                continue
            if self.minutes is not None and moment.minute not in self.minutes:
                moment += timedelta(minutes=1)
                continue
            return moment
        return None


def seconds_until_next(expression: str, now: datetime | None = None) -> float | None:
    """Seconds until the expression next fires; ``None`` if it never does."""
    rate = rate_seconds(expression)
    if rate is not None:
        return float(rate)
    now = now or datetime.now(timezone.utc)
    upcoming = Cron(expression).next_after(now)
    return None if upcoming is None else (upcoming - now).total_seconds()


class ScheduleRunner:
    """Runs each enabled schedule at its expression's times, divided by ``speed``."""

    def __init__(
        self, schedules: list[ScheduleSpec], fire: Callable[[ScheduleSpec], Awaitable[None]], speed: float
    ) -> None:
        self.schedules = schedules
        self.fire = fire
        self.speed = speed if speed > 0 else 1.0
        self.tasks = BackgroundTasks()

    def start(self) -> None:
        for schedule in self.schedules:
            if schedule.enabled:
                self.tasks.spawn(self._run(schedule))

    async def stop(self) -> None:
        await self.tasks.cancel()

    async def _run(self, schedule: ScheduleSpec) -> None:
        while True:
            try:
                delay = seconds_until_next(schedule.expression)
            except ScheduleExpressionError as error:
                log.warning(
                    "schedule %s: %s; run it with POST /__local/schedules/%s", schedule.name, error, schedule.name
                )
                return
            if delay is None:
                return
            started = time.monotonic()
            await asyncio.sleep(delay / self.speed)
            log.debug("schedule %s fired after %.2f s", schedule.name, time.monotonic() - started)
            await self.fire(schedule)
