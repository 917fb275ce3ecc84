#!/usr/bin/python3
"""A recording HTTP sink for the system tests (a real server on loopback).

Usage: http_sink.py RECORD_FILE PORT_FILE

Every request is appended to RECORD_FILE as one JSON line (method, path, headers,
body as UTF-8 text and as base64, receive time, the status answered). The bound port
is written to PORT_FILE once the server listens.

Behaviour is chosen by the first path segments, so tests can tell contacts apart by
adding any suffix (/ok/alice, /flaky/3/bob):
  /ok...           200 {"id": "sink-<n>"}
  /flaky/N...      first N requests to that exact path 503 (Retry-After: 0), then 200
  /down...         500
  /gone...         410
  /slow/S...       sleep S seconds (float), then 200
  /limited/N/S...  first N requests to that exact path 429 with Retry-After: S, then 200
  anything else    200 {"id": ...}
"""
import base64
import itertools
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECORD_FILE = sys.argv[1]
PORT_FILE = sys.argv[2]

_lock = threading.Lock()
_counters = {}
_ids = itertools.count(1)
_out = open(RECORD_FILE, "a", encoding="utf-8")


def _record(entry):
    line = json.dumps(entry, ensure_ascii=False)
    with _lock:
        _out.write(line + "\n")
        _out.flush()


def _hit(path):
    with _lock:
        n = _counters.get(path, 0) + 1
        _counters[path] = n
        return n


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep stderr quiet
        pass

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _handle(self):
        received = time.time()
        body = self._read_body()
        path = self.path.split("?", 1)[0]
        parts = [p for p in path.split("/") if p]
        n = _hit(path)
        status, extra_headers, delay = 200, {}, 0.0
        if parts and parts[0] == "flaky":
            limit = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 1
            if n <= limit:
                status, extra_headers = 503, {"Retry-After": "0"}
        elif parts and parts[0] == "limited":
            limit = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 1
            after = parts[2] if len(parts) > 2 and parts[2].isdigit() else "1"
            if n <= limit:
                status, extra_headers = 429, {"Retry-After": after}
        elif parts and parts[0] == "down":
            status = 500
        elif parts and parts[0] == "gone":
            status = 410
        elif parts and parts[0] == "slow":
            try:
                delay = float(parts[1])
            except (IndexError, ValueError):
                delay = 2.0
        seq = next(_ids)
        _record({
            "seq": seq,
            "time": received,
            "method": self.command,
            "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8", errors="replace"),
            "body_b64": base64.b64encode(body).decode("ascii"),
            "status": status,
            "hit": n,
            "peer_port": self.client_address[1],  # one per TCP connection: keep-alive reuse
        })
        if delay:
            time.sleep(delay)
        if status == 200:
            payload = json.dumps({"id": f"sink-{seq}"}).encode()
        else:
            payload = json.dumps({"error": status}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in extra_headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    do_POST = _handle
    do_PUT = _handle
    do_GET = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = PORT_FILE + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, PORT_FILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
