"""The HTTP API (FastAPI): modules, executions, signals, migration, hosts, metrics, and the web page.

Errors are JSON: {"error": {"status": 409, "message": "..."}}. With TD_API_TOKEN
set, every mutating request needs `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import service
from api.modules import install_module
from guest.toolchain import PrepareError
from runtime.metrics import Metrics
from runtime.observe import STATUSES, describe, history, snapshot_rows
from runtime.worker import Worker
from snapshots import keys
from snapshots.keys import InvalidId
from snapshots.records import ExecutionConflict, UnknownExecution, list_execution_ids, list_hosts
from snapshots.store import ObjectStore

log = logging.getLogger("tardigrade.http")

MAX_MODULE_BYTES = 32 * 1024 * 1024
MAX_INPUT_BYTES = 1024 * 1024
MAX_SIGNAL_BYTES = 1024 * 1024


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StartRequest(BaseModel):
    module: str = Field(description="sha256 of an uploaded module")
    id: str | None = Field(default=None, description="execution id; generated if absent (idempotent if given)")
    input: str | None = Field(default=None, description="input text")
    input_b64: str | None = Field(default=None, description="input bytes, base64")
    mode: Literal["snapshot", "replay", "hybrid"] = "snapshot"
    snapshot_every: int = Field(default=16, ge=1, le=1_000_000, description="hybrid: snapshot every K-th step")


class MigrateRequest(BaseModel):
    to: str = Field(description="target host id")


def create_app(
    store: ObjectStore,
    *,
    worker: Worker | None = None,
    metrics: Metrics | None = None,
    token: str | None = None,
    max_module_bytes: int = MAX_MODULE_BYTES,
) -> FastAPI:
    metrics = metrics or Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = FastAPI(
        title="Tardigrade",
        description="Durable WebAssembly workflows: snapshot after every host call, restore instead of replay.",
        version="0.1.0",
        lifespan=lifespan,
    )

    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        return JSONResponse({"error": {"status": e.status, "message": e.message}}, status_code=e.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": {"status": e.status_code, "message": str(e.detail)}}, status_code=e.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        message = f"internal error: {type(e).__name__}: {e}"
        return JSONResponse({"error": {"status": 500, "message": message}}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, e: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()]
        return JSONResponse({"error": {"status": 422, "message": "; ".join(parts)}}, status_code=422)

    def authorize(authorization: Annotated[str | None, Header()] = None) -> None:
        if token is None:
            return
        if not authorization:
            raise ApiError(401, "this server requires a bearer token (Authorization: Bearer <token>)")
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or given.strip() != token:
            raise ApiError(403, "invalid token")

    mutating = [Depends(authorize)]

    def known(execution_id: str) -> str:
        try:
            keys.validate_id(execution_id)
            describe(store, execution_id)
        except InvalidId as e:
            raise ApiError(400, str(e)) from None
        except UnknownExecution as e:
            raise ApiError(404, str(e)) from None
        return execution_id

    # -- modules -------------------------------------------------------------------------

    @app.post("/v1/modules", dependencies=mutating, status_code=201, summary="Upload a wasm module (raw body)")
    async def upload_module(request: Request) -> dict[str, Any]:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_module_bytes:
            raise ApiError(413, f"module is {length} bytes; the limit is {max_module_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_module_bytes:
                raise ApiError(413, f"module exceeds the limit of {max_module_bytes} bytes")
        if not body:
            raise ApiError(400, "empty body: send the wasm module as the request body")
        try:
            report = install_module(store, bytes(body), max_module_bytes, isolated=True)
        except PrepareError as e:
            raise ApiError({"invalid": 400, "too_large": 413, "abi": 422}[e.kind], str(e)) from None
        return {
            "id": report.sha256,
            "size": len(report.wasm),
            "already_prepared": report.already_prepared,
            "exports": report.exports,
            "imports": report.imports,
        }

    # -- executions ------------------------------------------------------------------------

    @app.post("/v1/executions", dependencies=mutating, summary="Start an execution (idempotent on id)")
    def start_execution(req: StartRequest, response: Response) -> dict[str, Any]:
        if req.input is not None and req.input_b64 is not None:
            raise ApiError(422, "give input or input_b64, not both")
        try:
            data = base64.b64decode(req.input_b64, validate=True) if req.input_b64 else (req.input or "").encode()
        except (binascii.Error, ValueError):
            raise ApiError(422, "input_b64 is not valid base64") from None
        if len(data) > MAX_INPUT_BYTES:
            raise ApiError(413, f"input is {len(data)} bytes; the limit is {MAX_INPUT_BYTES}")
        try:
            record, created = service.start(
                store, req.module, execution_id=req.id, input=data, mode=req.mode, snapshot_every=req.snapshot_every
            )
        except InvalidId as e:
            raise ApiError(400, str(e)) from None
        except service.UnknownModule as e:
            raise ApiError(404, str(e)) from None
        except ExecutionConflict as e:
            raise ApiError(409, str(e)) from None
        response.status_code = 201 if created else 200
        if created and worker is not None:
            worker.claim(record.id)  # start here at once; any host would pick it up from the due index
        return describe(store, record.id).to_dict()

    @app.get("/v1/executions", summary="List executions")
    def list_executions(
        status: Annotated[str | None, Query(description=f"one of {', '.join(STATUSES)}")] = None,
        host: Annotated[str | None, Query(description="host id holding the execution")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise ApiError(422, f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
        out = []
        for execution_id in list_execution_ids(store):
            try:
                st = describe(store, execution_id)
            except UnknownExecution:
                continue
            if (status is None or st.status == status) and (host is None or st.host == host):
                out.append(st.to_dict())
        out.sort(key=lambda s: s["created_at"], reverse=True)
        return out[:limit]

    @app.get("/v1/executions/{execution_id}", summary="An execution's status")
    def get_execution(execution_id: str) -> dict[str, Any]:
        known(execution_id)
        return describe(store, execution_id).to_dict()

    @app.get("/v1/executions/{execution_id}/history", summary="Every step, restore, migration and the end")
    def get_history(execution_id: str) -> list[dict[str, Any]]:
        known(execution_id)
        return [row.to_dict() for row in history(store, execution_id)]

    @app.get("/v1/executions/{execution_id}/snapshots", summary="The execution's snapshot objects")
    def get_snapshots(execution_id: str) -> list[dict[str, Any]]:
        known(execution_id)
        return snapshot_rows(store, execution_id)

    @app.post("/v1/executions/{execution_id}/signals/{name}", dependencies=mutating, status_code=202)
    async def post_signal(execution_id: str, name: str, request: Request) -> dict[str, Any]:
        known(execution_id)
        payload = await request.body()
        if len(payload) > MAX_SIGNAL_BYTES:
            raise ApiError(413, f"signal payload is {len(payload)} bytes; the limit is {MAX_SIGNAL_BYTES}")
        try:
            service.signal(store, execution_id, name, payload)
        except service.BadRequest as e:
            raise ApiError(409, str(e)) from None
        return {"id": execution_id, "signal": name, "bytes": len(payload)}

    @app.post("/v1/executions/{execution_id}/cancel", dependencies=mutating, status_code=202)
    def post_cancel(execution_id: str) -> dict[str, Any]:
        known(execution_id)
        try:
            service.cancel(store, execution_id)
        except service.BadRequest as e:
            raise ApiError(409, str(e)) from None
        return {"id": execution_id, "cancel": "requested"}

    @app.post("/v1/executions/{execution_id}/migrate", dependencies=mutating, status_code=202)
    def post_migrate(execution_id: str, req: MigrateRequest) -> dict[str, Any]:
        known(execution_id)
        try:
            st = service.migrate(store, execution_id, req.to)
        except InvalidId as e:
            raise ApiError(400, str(e)) from None
        except service.UnknownHost as e:
            raise ApiError(404, str(e)) from None
        except service.BadRequest as e:
            raise ApiError(409, str(e)) from None
        return {"id": execution_id, "from": st.host, "to": req.to, "requested_at": time.time()}

    # -- hosts, metrics, page ------------------------------------------------------------

    @app.get("/v1/hosts", summary="Hosts that share this store")
    def get_hosts() -> list[dict[str, Any]]:
        now = time.time()
        return [dict(vars(h), alive=h.alive(now)) for h in sorted(list_hosts(store), key=lambda h: h.host_id)]

    @app.get("/v1/host", summary="This host: what it runs and what it holds in memory")
    def get_this_host() -> dict[str, Any]:
        if worker is None:
            return {"host_id": None, "running": [], "instances": []}
        running = worker.running_ids()
        return {
            "host_id": worker.host_id,
            "running": running,
            "instances": [e for e in running if worker.has_instance(e)],
            "capacity": worker.max_concurrency,
        }

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    def get_metrics() -> str:
        by_status: dict[str, float] = dict.fromkeys(STATUSES, 0)
        for execution_id in list_execution_ids(store):
            try:
                by_status[describe(store, execution_id).status] += 1
            except UnknownExecution:
                continue
        gauges: dict[str, tuple[str, dict[str, float]]] = {
            "tardigrade_executions": (
                "Executions in the store by status.",
                {f'{{status="{s}"}}': n for s, n in by_status.items()},
            ),
            "tardigrade_parked_executions": ("Executions parked: no instance anywhere.", {"": by_status["parked"]}),
            "tardigrade_host_running_executions": (
                "Executions this host is running.",
                {"": len(worker.running_ids()) if worker else 0},
            ),
        }
        return metrics.render(gauges)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> str:
        return resources.files("api").joinpath("web/index.html").read_text(encoding="utf-8")

    web_files = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}

    @app.get("/web/{name}", include_in_schema=False)
    def web_file(name: str) -> Response:
        if name not in web_files:  # a fixed whitelist: no paths, nothing else from the package
            raise ApiError(404, f"no web file {name!r}")
        body = resources.files("api").joinpath("web", name).read_bytes()
        return Response(body, media_type=web_files[name], headers={"Cache-Control": "no-cache"})

    return app
