from __future__ import annotations

import json
from typing import Any

from connection_service.metrics import NAMESPACE, Metrics


def recorder() -> tuple[Metrics, list[dict[str, Any]]]:
    written: list[dict[str, Any]] = []
    metrics = Metrics(
        {"Service": "svc", "Stage": "dev"}, write=lambda line: written.append(json.loads(line)), clock=lambda: 1.5
    )
    return metrics, written


def test_counts_of_one_invocation_are_summed_into_one_emf_document() -> None:
    metrics, written = recorder()
    metrics.count("Deliveries", 3)
    metrics.count("Deliveries", 2)
    metrics.count("Broadcasts")
    metrics.milliseconds("BroadcastLatency", 4.25)
    metrics.milliseconds("BroadcastLatency", 1.0)

    metrics.flush()

    assert written == [
        {
            "_aws": {
                "Timestamp": 1500,
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["Service", "Stage"]],
                        "Metrics": [
                            {"Name": "Deliveries", "Unit": "Count"},
                            {"Name": "Broadcasts", "Unit": "Count"},
                            {"Name": "BroadcastLatency", "Unit": "Milliseconds"},
                        ],
                    }
                ],
            },
            "Service": "svc",
            "Stage": "dev",
            "Deliveries": 5,
            "Broadcasts": 1,
            "BroadcastLatency": [4.25, 1.0],
        }
    ]


def test_each_set_of_dimensions_is_a_document_of_its_own() -> None:
    metrics, written = recorder()
    metrics.count("Messages", Action="ping")
    metrics.count("Messages", Action="hello")

    metrics.flush()

    by_action = {d["Action"]: d for d in written}
    assert sorted(by_action) == ["hello", "ping"]
    assert all(d["Messages"] == 1 for d in written)
    assert by_action["ping"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Action", "Service", "Stage"]]


def test_a_flush_forgets_what_it_wrote_and_an_empty_one_writes_nothing() -> None:
    metrics, written = recorder()
    metrics.count("Connects")
    metrics.flush()
    metrics.flush()

    assert [d["Connects"] for d in written] == [1]


def test_more_values_than_a_document_holds_are_split_across_documents() -> None:
    metrics, written = recorder()
    for value in range(150):
        metrics.milliseconds("BroadcastLatency", value)

    metrics.flush()

    assert [len(d["BroadcastLatency"]) for d in written] == [100, 50]
    assert written[1]["BroadcastLatency"][0] == 100
