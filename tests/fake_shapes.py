"""An endpoint that answers every request the same wrong way: a redirect, or JSON of another shape.

    with WrongShapeServer(body={"object": "surprise"}) as server:
        ...  # server.base_url answers every GET and POST with that body, status 200

Everything stays on 127.0.0.1; `paths` records what was asked."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WrongShapeServer:
    def __init__(self, body=None, status: int = 200, headers: dict | None = None):
        self.payload = json.dumps(body).encode("utf-8") if body is not None else b""
        self.status, self.headers = status, headers or {}
        self.paths: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def __enter__(self) -> WrongShapeServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                server.paths.append(self.path)
                self.send_response(server.status)
                for name, value in {"content-type": "application/json", **server.headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(server.payload)))
                self.end_headers()
                self.wfile.write(server.payload)

            do_GET = do_POST = do_DELETE = answer

            def log_message(self, *args) -> None:
                pass

        return Handler
