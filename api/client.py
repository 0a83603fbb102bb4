"""A small HTTP client for a `tardigrade serve` host: what the CLI uses with --server."""

from __future__ import annotations

from typing import Any

from api import settings


class RemoteError(Exception):
    """The server answered with an error; the message is the server's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class Client:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60) -> None:
        import httpx  # only remote commands pay for it

        headers = {}
        token = token or settings.api_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise RemoteError(0, f"cannot reach {self.http.base_url}: {e}") from None
        if resp.status_code >= 400:
            try:
                message = resp.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = resp.text
            raise RemoteError(resp.status_code, message)
        return resp.json()

    def upload_module(self, wasm: bytes) -> dict[str, Any]:
        return dict(self._call("POST", "/v1/modules", content=wasm, headers={"Content-Type": "application/wasm"}))

    def start(self, module: str, **fields: Any) -> dict[str, Any]:
        body = {"module": module, **{k: v for k, v in fields.items() if v is not None}}
        return dict(self._call("POST", "/v1/executions", json=body))

    def executions(self, status: str | None = None, host: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("status", status), ("host", host)) if v}
        return list(self._call("GET", "/v1/executions", params=params))

    def status(self, execution_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/v1/executions/{execution_id}"))

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/v1/executions/{execution_id}/history"))

    def signal(self, execution_id: str, name: str, payload: bytes) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/executions/{execution_id}/signals/{name}", content=payload))

    def cancel(self, execution_id: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/executions/{execution_id}/cancel"))

    def migrate(self, execution_id: str, to_host: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/v1/executions/{execution_id}/migrate", json={"to": to_host}))

    def hosts(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/v1/hosts"))
