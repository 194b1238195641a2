"""Schedules from the template: run at their rate (sped up), or on demand through the admin endpoint."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest

from local.event_payloads import schedule_payload
from local.schedules import Cron, ScheduleExpressionError, seconds_until_next
from local.testing import LocalGateway
from tests.local.conftest import CHAT, EventLog, assert_same_shape
from tests.support.lambda_env import load_event


def test_schedule_runs_at_its_rate_with_the_scheduled_event(event_log: EventLog) -> None:
    log = EventLog(event_log.path.parent / "schedule.jsonl")
    env = {"EVENT_LOG": str(log.path), "REDIS_URL": None}
    # rate(1 minute) at 600x speed: every 0.1 s.
    with LocalGateway(CHAT, env=env, args=["--redis", "off", "--schedule-speed", "600"]) as gateway:
        gateway.wait_for_log(r"SCHEDULE +ScheduledFunctionTick -> ScheduledFunction ok")
    (first, *_) = log.entries("scheduled")
    event = first["event"]
    assert_same_shape(event, load_event("scheduled_event"))
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"][0].endswith(":rule/ScheduledFunctionTick")


def test_schedule_can_be_triggered_now(event_log: EventLog) -> None:
    log = EventLog(event_log.path.parent / "trigger.jsonl")
    env = {"EVENT_LOG": str(log.path), "REDIS_URL": None}
    with LocalGateway(CHAT, env=env, args=["--redis", "off", "--schedules", "off"]) as gateway:
        assert log.entries("scheduled") == []
        request = urllib.request.Request(f"{gateway.base_url}/__local/schedules/ScheduledFunctionTick", method="POST")
        answer = json.loads(urllib.request.urlopen(request, timeout=10).read())
        assert answer["targets"] == ["ScheduledFunction"]
        assert len(log.entries("scheduled")) == 1
        missing = urllib.request.Request(f"{gateway.base_url}/__local/schedules/Nope", method="POST")
        with pytest.raises(urllib.error.HTTPError) as not_found:
            urllib.request.urlopen(missing, timeout=10)
        assert not_found.value.code == 404


def test_constant_input_replaces_the_scheduled_event() -> None:
    payload = schedule_payload('{"scheduled": true}', rule_arn="arn", region="us-east-1", account_id="1", now_ms=0)
    assert payload == {"scheduled": True}


def test_rate_and_cron_expressions() -> None:
    assert seconds_until_next("rate(5 minutes)") == 300
    assert seconds_until_next("rate(1 hour)") == 3600
    now = datetime(2026, 11, 26, 10, 0, 30, tzinfo=timezone.utc)  # a Thursday
    assert seconds_until_next("cron(0/15 * * * ? *)", now) == 14 * 60 + 30
    assert Cron("cron(0 12 ? * MON-FRI *)").next_after(now) == datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
    assert Cron("cron(30 8 1 JAN ? *)").next_after(now) == datetime(2027, 1, 1, 8, 30, tzinfo=timezone.utc)
    assert Cron("cron(0 9 ? * SAT *)").next_after(now) == datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
    with pytest.raises(ScheduleExpressionError):
        Cron("cron(0 9 L * ? *)")
