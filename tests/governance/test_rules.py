"""The rule objects of governance/rules/: the registry, each scored rule's SQL against the columns it declares,
each rule's words in both languages, and the read path's alerts at the registry's severities.

Each rule's thresholds and evidence are tested through the job (test_anomalies.py) and its page
(test_alert_triage.py); these tests hold the rule objects to what they declare.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Max, Min
from django.utils import timezone, translation

from accounts.models import AccountEvent, Alert
from governance.rules import statements
from governance.rules.base import LOGS, Scan, Span
from governance.rules.registry import BY_NAME, RULES, SCORED
from records.models import AccessEvent, AnomalyWatermark
from tests.governance.test_alert_triage import budget, canary_read_path
from tests.governance.test_anomalies import NIGHT, T0, failures, history, log, times
from tests.records.conftest import make_record

pytestmark = pytest.mark.django_db


def everything_new() -> Scan:
    """Make a scan for which every event logged so far is new."""
    now = timezone.now()
    spans = {}
    for stream, model in (
        (AnomalyWatermark.Stream.ACCESS_EVENTS, AccessEvent),
        (AnomalyWatermark.Stream.ACCOUNT_EVENTS, AccountEvent),
    ):
        found = model.objects.aggregate(hi=Max("id"), since=Min("created_at"), n=Count("id"))
        spans[stream] = Span(0, found["hi"] or 0, found["since"] or now, found["n"])
    return Scan(spans, offset=int(timezone.localtime(now).utcoffset().total_seconds()))


# --- Events that fire each scored rule (the thresholds are the test settings' defaults) ----------------------


def burst(world):
    log(world.worker, times(61))


def spike(world):
    history(world.worker)
    log(world.worker, times(51, gaps=(70, 130, 95)))


def out_of_scope(world):
    log(world.worker, [T0 + timedelta(hours=h) for h in (0, 2, 5)], outcome="out_of_scope")


def night(world):
    log(world.worker, times(11, start=NIGHT, gaps=(1800, 2400, 1500)))


def cadence(world):
    log(world.worker, times(30, gaps=(20,)), action="search")


def many_ips(world):
    log(
        world.worker,
        [T0, T0 + timedelta(minutes=20), T0 + timedelta(minutes=40)],
        ips=["10.0.0.1", "10.0.0.2", "10.0.0.3"],
    )


def failed_logins(world):
    failures(world.worker, times(5, gaps=(100, 130)))


def unexplained_day(world):
    record = make_record("30000000000001", world.facility)
    log(world.worker, times(21, gaps=(70, 130, 95)), beneficiary=record)


def unexplained_week(world):
    """102 unexplained in six days, 17 a day: past the week's limit, never the day's."""
    record = make_record("30000000000001", world.facility)
    for day in range(6):
        log(world.worker, times(17, start=T0 - timedelta(days=5 - day), gaps=(70, 130, 95)), beneficiary=record)


FIRING = {
    "volume_burst": burst,
    "baseline_spike": spike,
    "out_of_scope": out_of_scope,
    "night_views": night,
    "cadence": cadence,
    "many_ips": many_ips,
    "failed_logins": failed_logins,
    "unexplained_views": unexplained_day,
    "unexplained_views_week": unexplained_week,
}


# --- The registry -------------------------------------------------------------------------------------------


def test_the_registry_names_each_rule_once_and_every_log_has_its_statement():
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names)) == len(BY_NAME)
    assert all(BY_NAME[rule.name] is rule for rule in RULES)
    assert {rule.log for rule in SCORED} <= set(LOGS)
    for rule in SCORED:
        assert rule.columns and rule.window is not None, rule.name
        assert len(set(rule.columns)) == len(rule.columns) and "actor_id" not in rule.columns, rule.name


def test_every_scored_rule_has_events_that_fire_it():
    assert set(FIRING) == {rule.name for rule in SCORED}


# --- Each scored rule's SQL yields the columns it declares -------------------------------------------------


@pytest.mark.parametrize("name", list(FIRING))
def test_each_rule_yields_its_declared_columns_and_the_statement_hands_them_over(world, name):
    rule = BY_NAME[name]
    FIRING[name](world)
    scan = everything_new()
    sql, params = statements.alone(rule, scan)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = tuple(column.name for column in cursor.description)
        rows = cursor.fetchall()
    assert columns == ("actor_id", *rule.columns)
    assert rows and all(value is not None for row in rows for value in row), rows
    assert {row[0] for row in rows} == {world.worker.pk}

    def found(hits):
        return sorted((h.actor_id, h.start, h.end, h.count, h.threshold, sorted(h.numbers.items())) for h in hits)

    alone = [rule.hit(scan, row[0], dict(zip(rule.columns, map(float, row[1:]), strict=True))) for row in rows]
    together = [hit for hit in statements.hits(scan) if hit.rule is rule]  # every rule of its log in one statement
    assert found(together) == found(alone)
    assert {hit.rule for hit in statements.hits(scan)} == {rule}  # the events fire this rule only


# --- Words for every rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_every_rule_has_words_in_english_and_hindi(rule):
    words = rule.words
    said = [words.title, words.meaning, *(w for w in (words.window_line, words.summary) if w is not None)]
    english = [str(text) for text in said]
    with translation.override("hi"):
        hindi = [str(text) for text in said]
        assert words.meaning_text()
    assert all(english) and all(h != e for h, e in zip(hindi, english, strict=True)), (english, hindi)
    assert rule.select is None or words.summary is not None  # the job's alerts store a summary


@pytest.mark.parametrize("raise_it", [canary_read_path, budget], ids=["canary", "daily_budget"])
def test_the_read_paths_alerts_have_the_registrys_severity(world, records, settings, raise_it):
    settings.PRAHARI_DAILY_VIEW_BUDGET = 3
    raise_it(world, records)
    [alert] = Alert.objects.all()
    assert alert.severity == BY_NAME[alert.rule].severity and BY_NAME[alert.rule].select is None
