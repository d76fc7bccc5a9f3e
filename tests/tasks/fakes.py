"""Loopback fakes for task tests: a knowledge base receiving signed webhooks, API clients,
and the worker run on a moving clock (timeline steps and outbox delivery)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import time_machine
from django.test import Client

from releasedesk.accounts.authn import hash_token
from releasedesk.accounts.models import ApiToken
from releasedesk.core.queue_models import WorkState

KB_SECRET = "whsec_" + base64.b64encode(b"kb-secret-for-task-tests-0123456").decode()


class FakeKnowledgeBase:
    """Accepts Standard Webhooks posts on loopback and checks each signature itself."""

    def __init__(self, secret: str = KB_SECRET) -> None:
        self.key = base64.b64decode(secret.removeprefix("whsec_"))
        self.received: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                msg_id, ts = self.headers["webhook-id"], self.headers["webhook-timestamp"]
                expected = base64.b64encode(
                    hmac.new(fake.key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
                ).decode()
                given = [s.split(",", 1)[1] for s in self.headers["webhook-signature"].split()]
                valid = any(hmac.compare_digest(expected, g) for g in given)
                fake.received.append({"id": msg_id, "valid": valid, "json": json.loads(body)})
                self.send_response(200 if valid else 401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/kb/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Api:
    """An API client with a personal token of `scope`."""

    def __init__(self, user: Any, scope: str = "write") -> None:
        raw = f"rd_{secrets.token_hex(4)}_{secrets.token_urlsafe(24)}"
        ApiToken.objects.create(
            user=user, name="test", prefix=raw[:11], token_hash=hash_token(raw), scope=scope
        )
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {raw}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get("/api/v1/tasks" + path, params, headers=self.headers)

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(
            "/api/v1/tasks" + path, body, content_type="application/json", headers=self.headers
        )


def run_until(start: dt.datetime, end: dt.datetime, *, limit: int = 500) -> list[dt.datetime]:
    """The worker on a moving clock: at each instant something is due (a step or a message),
    from `start` up to `end`, perform the due steps and deliver the due messages. The
    instants visited."""
    from releasedesk.outbox.delivery import deliver_due
    from releasedesk.outbox.models import Message
    from releasedesk.timeline.execution import handle_one_step
    from releasedesk.timeline.models import ScheduledStep

    now = start
    visited: list[dt.datetime] = []
    while now <= end and len(visited) < limit:
        with time_machine.travel(now, tick=False):
            for _ in range(200):
                if not handle_one_step(now=now, owner="test-worker"):
                    break
            while deliver_due(owner="test-worker", now=now):
                pass
        visited.append(now)
        upcoming = [
            d
            for d in (
                ScheduledStep.objects.filter(state=WorkState.PENDING, due_at__gt=now)
                .order_by("due_at")
                .values_list("due_at", flat=True)
                .first(),
                Message.objects.filter(state=WorkState.PENDING, due_at__gt=now)
                .order_by("due_at")
                .values_list("due_at", flat=True)
                .first(),
            )
            if d is not None
        ]
        if not upcoming:
            break
        now = min(upcoming)
    return visited
