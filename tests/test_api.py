"""The HTTP API through FastAPI's TestClient: bad input gets a clear JSON error and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http import create_app
from engine_helpers import resume
from snapshots.file import FileStore

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    app = create_app(FileStore(tmp_path / "store"), token=TOKEN, max_module_bytes=256 * 1024)
    return TestClient(app)


def error(resp, status: int) -> str:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"]["status"] == status and body["error"]["message"]
    return str(body["error"]["message"])


def test_modules_bad_input(client: TestClient, wasm: dict[str, Path], tmp_path: Path) -> None:
    assert "invalid wasm" in error(client.post("/v1/modules", content=b"\0asm garbage", headers=AUTH), 400)
    assert "limit" in error(client.post("/v1/modules", content=b"\0" * (300 * 1024), headers=AUTH), 413)
    assert "empty body" in error(client.post("/v1/modules", content=b"", headers=AUTH), 400)
    from test_bad_input import _module

    norun = _module([("memory", 2, 0)])
    assert "does not export a function `run`" in error(client.post("/v1/modules", content=norun, headers=AUTH), 422)
    assert not (tmp_path / "store" / "modules").exists() or not any((tmp_path / "store" / "modules").iterdir())

    ok = client.post("/v1/modules", content=wasm["order_fulfillment"].read_bytes(), headers=AUTH)
    assert ok.status_code == 201
    body = ok.json()
    assert len(body["id"]) == 64 and "run" in body["exports"] and "td.call" in body["imports"]


def test_token_is_required_for_mutations(client: TestClient, wasm: dict[str, Path]) -> None:
    data = wasm["order_fulfillment"].read_bytes()
    assert "bearer token" in error(client.post("/v1/modules", content=data), 401)
    assert "invalid token" in error(
        client.post("/v1/modules", content=data, headers={"Authorization": "Bearer no"}), 403
    )
    assert client.get("/v1/executions").status_code == 200  # reads stay open


def test_executions_lifecycle_and_errors(client: TestClient, wasm: dict[str, Path], tmp_path: Path) -> None:
    module = client.post("/v1/modules", content=wasm["order_fulfillment"].read_bytes(), headers=AUTH).json()["id"]

    assert "no module" in error(client.post("/v1/executions", json={"module": "ab" * 32}, headers=AUTH), 404)
    assert "invalid module id" in error(client.post("/v1/executions", json={"module": "nope"}, headers=AUTH), 400)
    assert "invalid execution id" in error(
        client.post("/v1/executions", json={"module": module, "id": "../x"}, headers=AUTH), 400
    )
    assert "mode" in error(client.post("/v1/executions", json={"module": module, "mode": "yolo"}, headers=AUTH), 422)
    assert "base64" in error(
        client.post("/v1/executions", json={"module": module, "input_b64": "!!"}, headers=AUTH), 422
    )

    first = client.post("/v1/executions", json={"module": module, "id": "o1", "input": "order-1"}, headers=AUTH)
    assert first.status_code == 201 and first.json()["status"] == "pending"
    again = client.post("/v1/executions", json={"module": module, "id": "o1", "input": "order-1"}, headers=AUTH)
    assert again.status_code == 200 and again.json()["id"] == "o1"
    other = client.post("/v1/executions", json={"module": module, "id": "o1", "input": "order-2"}, headers=AUTH)
    assert "different parameters" in error(other, 409)
    generated = client.post("/v1/executions", json={"module": module}, headers=AUTH)
    assert generated.status_code == 201 and generated.json()["id"].startswith("ex-")

    assert "no execution" in error(client.get("/v1/executions/missing"), 404)
    assert "invalid execution id" in error(client.get("/v1/executions/a..b"), 400)
    assert "no host 'nowhere'" in error(
        client.post("/v1/executions/o1/migrate", json={"to": "nowhere"}, headers=AUTH), 404
    )

    # Run it to completion in-process (this test has no worker), then poke at the finished execution.
    outcome, _ = resume(tmp_path / "store", "o1")
    assert outcome.status == "completed"
    st = client.get("/v1/executions/o1").json()
    assert st["status"] == "completed" and '"order":"order-1"' in st["output"]
    assert "has completed" in error(client.post("/v1/executions/o1/signals/go", content=b"x", headers=AUTH), 409)
    assert "has completed" in error(client.post("/v1/executions/o1/cancel", headers=AUTH), 409)
    assert [r["kind"] for r in client.get("/v1/executions/o1/history").json()][-1] == "completed"
    snaps = client.get("/v1/executions/o1/snapshots").json()
    assert [s["kind"] for s in snaps] == ["full", "delta", "delta", "delta", "delta", "terminal"]
    assert [s["id"] for s in client.get("/v1/executions", params={"status": "completed"}).json()] == ["o1"]
    assert "unknown status" in error(client.get("/v1/executions", params={"status": "sleepy"}), 422)

    metrics = client.get("/metrics").text
    assert 'tardigrade_executions{status="completed"} 1' in metrics
    assert 'tardigrade_executions{status="pending"} 1' in metrics
    assert client.get("/openapi.json").json()["info"]["title"] == "Tardigrade"
