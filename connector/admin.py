"""A small HTTP endpoint for operators: task status, pause, resume and skip-to at run time.

Enabled by ``connector.admin_listen`` (for example ``127.0.0.1:8083``); it has
no authentication, so bind it to loopback or a management network only.

    GET  /tasks                          every task's status and positions (JSON)
    GET  /health                         200 when no task has halted, 503 otherwise
    POST /tasks/<name>/pause             stop taking WAL data; queued items are still published
    POST /tasks/<name>/resume
    POST /tasks/<name>/skip-to?version=N jump ahead, publishing a GAP record for the skipped range
"""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from connector.runtime import Runtime

__all__ = ["AdminServer", "task_report"]

log = logging.getLogger(__name__)


def task_report(runtime: Runtime) -> list[dict[str, Any]]:
    """Return one JSON-able status document per task."""
    report = []
    for task in runtime.tasks:
        state = task.state
        report.append({
            "name": task.name,
            "role": task.role,
            "topic": task.task.topic,
            "walDir": task.task.wal_dir,
            "vgId": task.vnode.vg_id,
            "status": state.status.value,
            "nextProcessVer": state.next_process_ver,
            "committedVer": state.committed_ver,
            "queuedItems": len(state.queue),
            "queuedBytes": state.queue.size_bytes,
            "fillRange": list(state.fill_range) if state.fill_range else None,
            "rewinds": [list(r) for r in state.rewinds],
            "error": str(state.error) if state.error else None,
        })
    return report


class _Handler(BaseHTTPRequestHandler):
    runtime: Runtime

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        log.debug("admin %s: " + format, self.client_address[0], *args)

    def _send(self, status: HTTPStatus, document: object) -> None:
        body = json.dumps(document, indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = urlsplit(self.path).path.rstrip("/")
        if path.startswith("/tasks/") and path.count("/") == 3:
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"use POST for {path}"})
        elif path == "/tasks":
            self._send(HTTPStatus.OK, task_report(self.runtime))
        elif path == "/health":
            halted = [t["name"] for t in task_report(self.runtime) if t["status"] == "halted"]
            status = HTTPStatus.SERVICE_UNAVAILABLE if halted else HTTPStatus.OK
            self._send(status, {"healthy": not halted, "haltedTasks": halted})
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no resource {self.path}; try GET /tasks "
                                                       f"or GET /health"})

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "tasks":
            self._send(HTTPStatus.NOT_FOUND, {"error": "expected /tasks/<name>/<pause|resume|skip-to>"})
            return
        _, name, action = parts
        try:
            task = self.runtime.task(name)
        except KeyError:
            names = [t.name for t in self.runtime.tasks]
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no task named {name!r}", "tasks": names})
            return
        if action == "pause":
            self.runtime.pause(name)
        elif action == "resume":
            self.runtime.resume(name)
        elif action == "skip-to":
            values = parse_qs(url.query).get("version", [])
            if len(values) != 1 or not values[0].isdigit():
                self._send(HTTPStatus.BAD_REQUEST, {"error": "skip-to needs ?version=<WAL version>"})
                return
            task.skip_to(int(values[0]))
            self.runtime.request_scan()
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"unknown action {action!r}; use pause, "
                                                       f"resume or skip-to"})
            return
        log.info("admin: %s %s from %s", action, name, self.client_address[0])
        self._send(HTTPStatus.OK, {"task": name, "status": task.status.value})


class AdminServer:
    """Serve the admin endpoint on a background thread."""

    def __init__(self, runtime: Runtime, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        handler = type("AdminHandler", (_Handler,), {"runtime": runtime})
        self._server = ThreadingHTTPServer((host, int(port)), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="admin", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()
        log.info("admin endpoint listening on http://%s/tasks", self.address)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
