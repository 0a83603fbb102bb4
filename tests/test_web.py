"""The web page at `/`, in headless Chromium, on real executions.

Two hosts share a file store. One execution (deep_state, 14 steps of 0.2 s) is
migrated from host a to host b while it runs, then b is SIGKILLed and a restores
it from its last snapshot; another (approval) parks waiting for a signal and is
restored when the signal comes. Chromium then renders the list and both detail
pages; the DOM must show the ids, the statuses, the hosts (b dead) and the
timeline (one bar per activity, the migration, the restores, the parked period,
the time without a host), and the screenshots must be real 1280x900 pictures.

TD_UPDATE_SCREENSHOT=1 also copies the detail screenshot to api/web/screenshot.png.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from api.client import Client
from conftest import ACTIVITIES, CACHE, EXAMPLES, REPO, env, wait_for
from guest.toolchain import build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)"
)

DEPTH = 6  # deep_state makes 2 * (DEPTH + 1) activity calls
STEPS = 2 * (DEPTH + 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Host:
    """A `tardigrade serve` process, its output in a log file (a pipe nobody reads would fill up)."""

    def __init__(self, host_id: str, store: Path, logs: Path) -> None:
        self.host_id = host_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = logs / f"host-{host_id}.log"
        # fmt: off
        args = [
            sys.executable, "-m", "api", "serve", "--host-id", host_id, "--store", str(store),
            "--port", str(self.port), "-a", ACTIVITIES, "--lease-ttl", "2", "--park-after", "300",
        ]
        # fmt: on
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env(TD_ACTIVITY_DELAY="0.2")
            )

    def alive_on_store(self) -> set[str]:
        if self.proc.poll() is not None:
            raise AssertionError(f"host {self.host_id} exited:\n{self.log.read_text()[-2000:]}")
        try:
            return {h["host_id"] for h in httpx.get(f"{self.url}/v1/hosts", timeout=2).json() if h["alive"]}
        except httpx.HTTPError:
            return set()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def guests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Just the two guests this module runs (the session-wide `wasm` builds them all)."""
    out = tmp_path_factory.mktemp("web-wasm")
    built = {}
    for name in ("deep_state", "approval"):
        built[name] = out / f"{name}.wasm"
        build([EXAMPLES / f"{name}.c"], built[name], cache_dir=CACHE)
    return built


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Host, Host]]:
    """Hosts a and b on one store, for the whole module."""
    tmp = tmp_path_factory.mktemp("web")
    a = Host("a", tmp / "store", tmp)
    b = Host("b", tmp / "store", tmp)
    try:
        wait_for(lambda: a.alive_on_store() >= {"a", "b"}, timeout=30, what="hosts a and b to serve")
        yield a, b
    finally:
        a.stop()
        b.stop()


def chromium(url: str, tmp_path: Path, screenshot: Path | None = None) -> str:
    """Render `url` in a fresh headless Chromium; return the DOM (or take a screenshot)."""
    profile = tmp_path / f"chromium-{uuid.uuid4().hex[:8]}"
    # fmt: off
    args = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1280,900", "--virtual-time-budget=5000",
    ]
    # fmt: on
    args.append(f"--screenshot={screenshot}" if screenshot else "--dump-dom")
    r = subprocess.run([*args, url], capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr[-2000:]
    shutil.rmtree(profile, ignore_errors=True)
    return r.stdout


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def count(dom: str, pattern: str) -> int:
    return len(re.findall(pattern, dom))


def list_row(dom: str, execution_id: str) -> str:
    m = re.search(rf'<tr class="exec-row" data-id="{re.escape(execution_id)}".*?</tr>', dom, re.S)
    assert m, f"no row for {execution_id} in the list:\n{dom[-3000:]}"
    return m.group(0)


def b_holds_it_and_says_so(client: Client, execution_id: str, step: int) -> bool:
    """b runs it, has made `step` steps, and its heartbeat lists it (so a adopts it when b dies)."""
    b = next(h for h in client.hosts() if h["host_id"] == "b")
    return execution_id in b["executions"] and client.status(execution_id)["step"] >= step


def test_the_page_shows_executions_and_a_timeline_with_a_migration_and_restores(
    guests: dict[str, Path], tmp_path: Path, hosts: tuple[Host, Host]
) -> None:
    a, b = hosts
    client = Client(a.url)
    deep = client.upload_module(guests["deep_state"].read_bytes())["id"]
    approval = client.upload_module(guests["approval"].read_bytes())["id"]

    # deep_state starts on a, is moved to b after its third step, and when b dies a restores it.
    client.start(deep, id="deep-web", input=str(DEPTH))
    # approval parks waiting for a signal; its input comes back in the output (escaped on the page).
    client.start(approval, id="approval-web", input="doc-<b>7</b>&co")
    wait_for(lambda: client.status("deep-web")["step"] >= 3, timeout=20, what="deep-web to make three steps")
    client.migrate("deep-web", b.host_id)
    wait_for(lambda: b_holds_it_and_says_so(client, "deep-web", 6), timeout=20, what="deep-web to run on b")
    b.proc.kill()
    b.proc.wait(timeout=10)
    wait_for(lambda: client.status("approval-web")["status"] == "parked", timeout=20, what="approval-web to park")
    wait_for(lambda: client.status("deep-web")["status"] == "completed", timeout=30, what="a to finish deep-web")

    history = client.history("deep-web")
    kinds = [r["kind"] for r in history]
    assert kinds.count("activity") == STEPS and kinds.count("migrated") == 1 and kinds.count("restored") == 2, kinds
    assert [r["host"] for r in history if r["kind"] == "restored"] == ["b", "a"]

    # The list, with one execution parked and one completed (and a screenshot of it).
    listing = tmp_path / "web-list.png"
    with ThreadPoolExecutor(2) as pool:
        shot = pool.submit(chromium, f"{a.url}/", tmp_path, listing)
        dom = chromium(f"{a.url}/", tmp_path)
        shot.result()
    assert 'data-status="completed"' in list_row(dom, "deep-web")
    parked = list_row(dom, "approval-web")
    assert 'data-status="parked"' in parked and "waits for signal “approve”" in parked
    assert count(dom, r'class="host-chip me" data-host="a"') == 1  # this host, alive
    assert count(dom, r'class="host-chip dead" data-host="b"') == 1  # b, dead
    assert "served by <b>a</b>" in dom

    client.signal("approval-web", "approve", b"alice")
    wait_for(lambda: client.status("approval-web")["status"] == "completed", timeout=20, what="approval-web to end")

    # deep_state's page: a bar per activity on two host lanes, the migration (a restore on b), the time
    # without a host after b died, and the restore on a.
    detail = tmp_path / "web-execution.png"
    with ThreadPoolExecutor(3) as pool:
        shot = pool.submit(chromium, f"{a.url}/#/executions/deep-web", tmp_path, detail)
        approval_dom = pool.submit(chromium, f"{a.url}/#/executions/approval-web", tmp_path)
        dom = chromium(f"{a.url}/#/executions/deep-web", tmp_path)
        shot.result()
    assert '<h2 id="exec-id">deep-web</h2>' in dom
    assert 'class="badge st-completed big" data-status="completed"' in dom
    assert count(dom, r'class="tl-bar" data-kind="activity"') == STEPS
    assert count(dom, r'class="tl-migration"') == 1 and count(dom, r'class="tl-migration-arrow"') == 1
    assert count(dom, r'class="tl-restore"') == 1 and ">restored on a<" in dom
    assert count(dom, r'class="tl-lost"') == 1 and "b lost · " in dom
    assert "migrated a → b" in dom and ">host a<" in dom and ">host b<" in dom
    assert count(dom, r'class="tl-snap" data-snapshot="full"') >= 1
    assert count(dom, r'class="tl-snap" data-snapshot="delta"') >= STEPS - 1
    assert count(dom, r'class="tl-snap" data-snapshot="terminal"') == 1
    assert count(dom, r'class="tl-end" data-kind="completed"') == 1
    assert "Last migration" in dom and "paused" in dom

    # approval's page: parked between the signal wait and the restore; the output is text, not markup.
    dom = approval_dom.result()
    assert 'data-status="completed"' in dom
    assert count(dom, r'class="tl-restore"') == 1 and count(dom, r'class="tl-parked"') == 1
    assert count(dom, r'class="tl-mark" data-kind="signal_wait"') == 1
    assert "doc-&lt;b&gt;7&lt;/b&gt;&amp;co" in dom and "<b>7</b>" not in dom

    # The screenshots (the list with approval parked, and deep_state's page): 1280x900, not blank.
    for png in (listing, detail):
        assert png_size(png) == (1280, 900)
        assert png.stat().st_size > 20_000, f"{png} looks blank ({png.stat().st_size} bytes)"
    if os.environ.get("TD_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(detail, REPO / "api" / "web" / "screenshot.png")


def test_an_unknown_execution_says_so_and_web_files_are_whitelisted(tmp_path: Path, hosts: tuple[Host, Host]) -> None:
    a, _ = hosts
    dom = chromium(f"{a.url}/#/executions/no-such-thing", tmp_path)
    assert "No execution with id “no-such-thing”" in dom
    assert httpx.get(f"{a.url}/web/app.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{a.url}/web/style.css").headers["content-type"].startswith("text/css")
    for name in ("index.html", "..%2Fhttp.py", "screenshot.png", "nope.js"):
        assert httpx.get(f"{a.url}/web/{name}").status_code == 404, name
    assert httpx.get(f"{a.url}/").text.count('src="web/app.js"') == 1
