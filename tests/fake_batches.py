"""The Batch API of tests/fake_openai.py's server: /v1/files (upload, content) and /v1/batches.

Served with `FakeOpenAIServer(batches=True)`. Files share the fine-tuning block's store. A batch
advances one state each time it is retrieved: validating -> in_progress -> finalizing -> its
outcome, then writes its output and error files (OpenAI's line formats). Each created batch takes
the next of `batch_outcomes` (then "completed"): "completed" answers every line; "partial" answers
with a 500 every line whose custom_id is seen for the first time and sits at an even position (a
retry of the same line succeeds); "expired" and "cancelled" answer the first half of the lines and
list the rest in the error file as batch_expired / batch_cancelled; "failed" fails validation.
POST .../cancel cancels at the next retrieve, with the lines answered so far.
"""

from __future__ import annotations

import json
import re
import threading
import time

from tests.fake_openai import FakeOpenAIServer, _completion, _multipart

_BATCH_ROUTE = re.compile(r"^/v1/batches(?:/([^/]+)(?:/(cancel))?)?$")
_FILE_CONTENT_ROUTE = re.compile(r"^/v1/files/([^/]+)/content$")
BATCH_OUTCOMES = ("completed", "partial", "expired", "cancelled", "failed")


class FakeBatches:
    def __init__(self, server: FakeOpenAIServer, outcomes: tuple[str, ...] = ()):
        unknown = set(outcomes) - set(BATCH_OUTCOMES)
        if unknown:
            raise ValueError(f"batch outcomes must be among {', '.join(BATCH_OUTCOMES)}, not {sorted(unknown)}")
        self.server = server
        self.outcomes = list(outcomes)
        self.batches: dict[str, dict] = {}
        self.lines_seen: dict[str, int] = {}  # custom_id -> times it was in a batch
        self.created = 0  # batches created (a resumed run must not create one again)
        self.lock = threading.Lock()

    @property
    def files(self) -> dict[str, dict]:
        return self.server.ft.files

    def create(self, body: dict) -> tuple[int, dict]:
        file_id = body.get("input_file_id")
        if file_id not in self.files or self.files[file_id]["purpose"] != "batch":
            return 400, {"error": {"message": f"no batch input file {file_id}", "type": "invalid_request_error"}}
        if body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
            return 400, {
                "error": {"message": "endpoint or completion_window not supported", "type": "invalid_request_error"}
            }
        with self.lock:
            self.created += 1
            batch_id = f"batch_{self.created}"
            lines = [json.loads(line) for line in self.files[file_id]["content"].decode().splitlines() if line.strip()]
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": body["endpoint"],
                "input_file_id": file_id,
                "completion_window": "24h",
                "status": "validating",
                "created_at": int(time.time()),
                "output_file_id": None,
                "error_file_id": None,
                "errors": None,
                "metadata": body.get("metadata"),
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "_lines": lines,
                "_outcome": self.outcomes.pop(0) if self.outcomes else "completed",
                "_cancel": False,
            }
        return 200, self._public(batch_id)

    def retrieve(self, batch_id: str) -> dict:
        with self.lock:
            batch = self.batches[batch_id]
            status = batch["status"]
            if status == "validating":
                batch["status"] = "failed" if batch["_outcome"] == "failed" else "in_progress"
                if batch["status"] == "failed":
                    batch["errors"] = {
                        "object": "list",
                        "data": [{"code": "invalid_file", "message": "the input is invalid"}],
                    }
            elif status == "in_progress" and batch["_cancel"]:
                self._finish(batch, "cancelled")
            elif status == "in_progress":
                batch["status"] = "finalizing"
                batch["request_counts"]["completed"] = len(batch["_lines"]) // 2
            elif status == "finalizing":
                self._finish(batch, {"partial": "completed"}.get(batch["_outcome"], batch["_outcome"]))
            return self._public(batch_id)

    def cancel(self, batch_id: str) -> dict:
        with self.lock:
            batch = self.batches[batch_id]
            if batch["status"] in ("validating", "in_progress", "finalizing"):
                batch["_cancel"], batch["status"] = True, "in_progress"
                batch["_outcome"] = "cancelled"
            return {**self._public(batch_id), "status": "cancelling" if batch["_cancel"] else batch["status"]}

    def _finish(self, batch: dict, status: str) -> None:
        lines = batch["_lines"]
        answered = len(lines) if status == "completed" else len(lines) // 2
        output, errors = [], []
        for position, line in enumerate(lines):
            custom_id = line["custom_id"]
            seen = self.lines_seen.get(custom_id, 0)
            self.lines_seen[custom_id] = seen + 1
            if position >= answered:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                errors.append(
                    {
                        "id": f"req-{custom_id}",
                        "custom_id": custom_id,
                        "response": None,
                        "error": {"code": code, "message": f"the batch was {status} before this request ran"},
                    }
                )
            elif batch["_outcome"] == "partial" and not seen and position % 2 == 0:
                errors.append(
                    {
                        "id": f"req-{custom_id}",
                        "custom_id": custom_id,
                        "error": None,
                        "response": {
                            "status_code": 500,
                            "request_id": f"r-{custom_id}",
                            "body": {"error": {"message": "The server had an error", "type": "server_error"}},
                        },
                    }
                )
            else:
                body = _completion(line["body"], self.server.responder(line["body"]))
                output.append(
                    {
                        "id": f"req-{custom_id}",
                        "custom_id": custom_id,
                        "error": None,
                        "response": {"status_code": 200, "request_id": f"r-{custom_id}", "body": body},
                    }
                )
        batch["status"] = status
        batch["request_counts"].update(completed=len(output), failed=len(errors) if status == "completed" else 0)
        batch["output_file_id"] = self._store(batch["id"], "output", output)
        batch["error_file_id"] = self._store(batch["id"], "error", errors)

    def _store(self, batch_id: str, kind: str, lines: list[dict]) -> str | None:
        if not lines:
            return None
        file_id = f"file-{batch_id}-{kind}"
        content = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self.files[file_id] = {"content": content, "purpose": "batch_output", "filename": f"{batch_id}_{kind}.jsonl"}
        return file_id

    def _public(self, batch_id: str) -> dict:
        return {k: v for k, v in self.batches[batch_id].items() if not k.startswith("_")}

    def answer(self, method: str, path: str, raw: bytes, content_type: str) -> tuple[int, dict | bytes] | None:
        """(status, body) for a files or batches request; None for any other path."""
        if method == "POST" and path == "/v1/files":
            fields, filename = _multipart(raw, content_type)
            return self.server.ft.upload(fields, filename)
        content = _FILE_CONTENT_ROUTE.match(path)
        if content and method == "GET":
            file = self.files.get(content.group(1))
            if file is None:
                return 404, {"error": {"message": f"No file {content.group(1)}", "type": "invalid_request_error"}}
            return 200, file["content"]
        match = _BATCH_ROUTE.match(path)
        if not match:
            return None
        batch_id, action = match.groups()
        if batch_id is None:
            if method == "POST":
                return self.create(json.loads(raw or b"{}"))
            data = [self._public(b) for b in reversed(self.batches)]
            return 200, {"object": "list", "data": data, "has_more": False}
        if batch_id not in self.batches:
            return 404, {"error": {"message": f"No batch {batch_id}", "type": "invalid_request_error"}}
        if action == "cancel" and method == "POST":
            return 200, self.cancel(batch_id)
        return 200, self.retrieve(batch_id)

    def route(self, handler, method: str, path: str, raw: bytes) -> bool:
        """Answer a files or batches request through the server's handler; False for any other path."""
        answer = self.answer(method, path, raw, handler.headers.get("Content-Type", ""))
        if answer is None:
            return False
        status, body = answer
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        handler._send(
            path, None, status, {} if isinstance(body, dict) else {"Content-Type": "application/octet-stream"}, payload
        )
        return True
