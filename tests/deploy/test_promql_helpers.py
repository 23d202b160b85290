"""The helpers other deploy tests lean on find metric names and exported series correctly."""

import pytest

from tests.deploy.promql import exported_series, metric_names, quantity, substitute_variables


def test_metric_names_skip_functions_labels_durations_and_keywords():
    expr = (
        'sum by (connector, le) (rate(peppasync_connector_request_duration_seconds_bucket'
        '{job=~"$job", outcome=~"a|b"}[5m])) / on() group_left(flow) '
        'peppasync_mailbox_depth offset 30m or absent(up{job="peppasync"}) > 1e3'
    )

    names = metric_names(expr)

    assert names == {"peppasync_connector_request_duration_seconds_bucket", "peppasync_mailbox_depth", "up"}


def test_metric_names_read_a_name_given_as_a_matcher():
    assert metric_names('{__name__="peppasync_orders", state="received"}') == {"peppasync_orders"}


def test_exported_series_expand_counters_and_histograms_from_their_type_lines():
    exposition = (
        "# HELP a_total x\n# TYPE a_total counter\n"
        "# HELP b_seconds x\n# TYPE b_seconds histogram\n"
        "# HELP c x\n# TYPE c gauge\nc 1.0\n"
    )

    names = exported_series(exposition)

    assert names == {
        "a_total", "a_created", "b_seconds_bucket", "b_seconds_count", "b_seconds_sum",
        "b_seconds_created", "c",
    }


def test_grafana_variables_become_values_prometheus_accepts():
    assert substitute_variables('rate(x{job=~"$job"}[$__rate_interval])') == 'rate(x{job=~".*"}[1m])'


@pytest.mark.parametrize(
    ("expr", "measured"),
    [
        ('histogram_quantile(0.95, sum by (le) (rate(a_duration_seconds_bucket{x="1"}[5m])))', "seconds"),
        ("histogram_quantile(0.95, sum by (le) (rate(a_batch_size_bucket[5m])))", "count"),
        ("sum(rate(a_commits_total[5m]))", "per second"),
        ("sum by (flow) (rate(a_lag_seconds_count[5m]))", "per second"),
        ("rate(process_cpu_seconds_total[5m])", "ratio"),
        ("sum(rate(a_total{o=~\"e\"}[5m])) / sum(rate(a_total[5m]))", "ratio"),
        ("sum(increase(a_restarts_total[1h]))", "count"),
        ("max by (actor) (a_oldest_age_seconds)", "seconds"),
        ("process_resident_memory_bytes", "bytes"),
        ("sum(a_depth)", "count"),
    ],
)
def test_quantity_reads_what_a_query_measures_from_its_shape_and_metric_suffix(expr: str, measured: str) -> None:
    assert quantity(expr) == measured


def test_quantity_refuses_a_query_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="cannot tell"):
        quantity("a_depth / a_limit")
