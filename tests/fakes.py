"""Fake servers on a thread for the tests: an HTTP endpoint that records what it is sent and
answers as told (200, 500, or not at all for a while), and a small SMTP server."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeEndpoint:
    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    hang_seconds: float = 0.0


@contextmanager
def fake_endpoint() -> Iterator[FakeEndpoint]:
    """An HTTP server on 127.0.0.1 that records each POST and answers endpoint.status,
    after sleeping endpoint.hang_seconds (a hanging endpoint)."""
    state = FakeEndpoint(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            if state.hang_seconds:
                time.sleep(state.hang_seconds)
            self.send_response(state.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class FakeSmtp:
    port: int
    messages: list[tuple[str, list[str], str]] = field(default_factory=list)
    # An SMTP reply code to give to MAIL FROM instead of 250: a server refusing for now.
    refuse_with: int | None = None
    connections: int = 0


@contextmanager
def fake_smtp() -> Iterator[FakeSmtp]:
    """An SMTP server on 127.0.0.1 speaking enough of RFC 5321 for smtplib."""
    state = FakeSmtp(port=0)

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            sender, recipients = "", []
            state.connections += 1
            self.reply("220 fake ESMTP")
            while line := self.rfile.readline():
                command = line.decode().strip()
                verb = command[:4].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 fake")
                elif verb == "MAIL":
                    if state.refuse_with:
                        self.reply(f"{state.refuse_with} try again later")
                        continue
                    sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                    self.reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip(" <>"))
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 go on")
                    data = []
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data.append(chunk.decode())
                    state.messages.append((sender, recipients, "".join(data)))
                    self.reply("250 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("250 OK")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
