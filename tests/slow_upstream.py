"""A stand-in upstream for the poller's tests and bench: GET .../tasks/<id> answers
"processing" after a delay chosen per key (default 0.2 s), and it notes when each look-up came
and how many of one task were in flight at once. Used in a thread (tests/test_poller.py) or as
its own process (`python -m tests.slow_upstream PORT`, tests/bench/poller.py), where GET /stats
gives what it noted as JSON and POST /delays sets the delays."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SlowUpstream:
    def __init__(self, port: int = 0, delay: float = 0.2) -> None:
        self.delay = delay
        self.delays: dict[str, float] = {}
        self.looks: dict[str, list[float]] = defaultdict(list)  # task id → arrival (epoch s)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.most_in_flight: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the studio's client reuses connections
            disable_nagle_algorithm = True  # headers and body written apart: no 40 ms stall

            def do_GET(self) -> None:
                if self.path == "/stats":
                    with outer.lock:
                        self._answer({"looks": outer.looks, "most": outer.most_in_flight})
                    return
                task_id = self.path.rstrip("/").rsplit("/", 1)[-1]
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                with outer.lock:
                    outer.looks[task_id].append(time.time())
                    outer.in_flight[task_id] += 1
                    outer.most_in_flight[task_id] = max(
                        outer.most_in_flight[task_id], outer.in_flight[task_id]
                    )
                time.sleep(outer.delays.get(key, outer.delay))
                with outer.lock:
                    outer.in_flight[task_id] -= 1
                self._answer({"code": 200, "data": {"task_id": task_id, "status": "processing"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.delays.update(json.loads(self.rfile.read(length) or b"{}"))
                self._answer({"ok": True})

            def _answer(self, payload) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/api/v1"

    def start(self) -> SlowUpstream:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def first_look(self, task_id: str) -> float | None:
        looks = self.looks.get(task_id)
        return looks[0] if looks else None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    SlowUpstream(int(sys.argv[1])).server.serve_forever()
