"""deploy/monitoring: the Grafana dashboard and the Prometheus alert rules parse, have the shape their tools load, and
every expression reads only series that GET /metrics exports."""

import json
import re
from pathlib import Path

import pytest
import yaml
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana-dashboard.json"
ALERTS = MONITORING / "alerts.yaml"
DURATION = re.compile(r"^\d+[smhdwy]$")

# PromQL words that are not metric names.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: what is left once strings, label matchers, ranges, grouping
    clauses, function calls and keywords are taken out."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # range and subquery durations
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"(?<![A-Za-z0-9_:])\d[A-Za-z0-9_.]*", " ", expr)  # numbers and durations (5m, 1e-9)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        following = expr[match.end():].lstrip()[:1]
        word = match.group(0)
        if following == "(" or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


@pytest.fixture(scope="module")
def exported_series(django_db_setup, django_db_blocker) -> set[str]:
    """Every sample name a scrape of GET /metrics returns (each family's _total, _bucket, _sum, _count, the
    gauges)."""
    with django_db_blocker.unblock():
        response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return {sample.name for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples}


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_the_expression_parser_finds_metric_names_and_nothing_else():
    expr = ('sum by (provider) (rate(video_saas_provider_requests_total{outcome!="success",x="a{b}"}[5m])) '
            '/ clamp_min(sum(rate(other_metric[1h] offset 5m)), 1e-9) > 0.25 and on (job) up == bool 1')
    assert metric_names(expr) == {"video_saas_provider_requests_total", "other_metric", "up"}


def test_the_dashboard_is_grafana_json_with_a_prometheus_query_in_every_panel():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys()


def test_the_alert_rules_file_has_groups_of_rules_with_alert_expr_and_for():
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= {"VideoJobFailureRateHigh", "DueStepBacklogOld", "ProviderErrorBurst",
                                                 "WebhookBacklog"}
    for rule in rules:
        assert rule["expr"].strip() and DURATION.match(rule["for"]), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


@pytest.mark.django_db
@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_expression_reads_only_series_the_service_exports(source, exported_series):
    exprs = dashboard_exprs() if source == "dashboard" else [rule["expr"] for rule in alert_rules()]
    used = set().union(*(metric_names(expr) for expr in exprs))
    assert used, "no metric names found: the parser is out of date"
    assert sorted(used - exported_series) == []


def test_a_name_the_service_does_not_export_would_be_caught(exported_series):
    assert "video_saas_jobs_total" in exported_series
    assert "video_saas_jobs_failed_total" not in exported_series
