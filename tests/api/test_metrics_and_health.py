"""Readiness, Prometheus metrics by route template, OpenAPI."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import User, new_client, random_instance_id


def test_readiness_checks_the_migrated_store(api_app: FastAPI) -> None:
    resp = new_client(api_app).get("/readyz")
    assert resp.status_code == 200 and resp.json()["store"] == "ok"


def test_latency_is_labelled_by_route_template_not_by_id(api_app: FastAPI, alice: User) -> None:
    for _ in range(3):
        alice.client.get(f"/api/instances/{random_instance_id()}")
    alice.client.get("/no/such/page")
    text = new_client(api_app).get("/metrics").text
    samples = [
        s
        for family in text_string_to_metric_families(text)
        if family.name == "spendsense_api_request_duration_seconds"
        for s in family.samples
        if s.name.endswith("_count")
    ]
    routes = {s.labels["route"] for s in samples}
    assert "/api/instances/{instance_id}" in routes
    assert "unmatched" in routes
    assert not any(r.startswith("/api/instances/i-") for r in routes)
    count = sum(
        s.value
        for s in samples
        if s.labels["route"] == "/api/instances/{instance_id}" and s.labels["status"] == "404"
    )
    assert count >= 3


def test_openapi_documents_every_api_route_with_the_error_shape(api_app: FastAPI) -> None:
    schema = new_client(api_app).get("/openapi.json").json()
    assert "/api/instances/{instance_id}/stop" in schema["paths"]
    stop = schema["paths"]["/api/instances/{instance_id}/stop"]["post"]
    assert stop["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorBody"
    )
    assert new_client(api_app).get("/docs").status_code == 200
