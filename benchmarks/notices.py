"""Notices through the outbox vs the stdlib floor, to a loopback SMTP sink.

    python -m benchmarks notices [--size 10000] [--connections 4] [--rounds N] [--batch 20] [--json]

Outbox run (timed from the first enqueue to the last SMTP 250):
  one transaction resolves the audience (`affected_org_admins`: `size` admins of customers
  using the product) and enqueues one rendered notice per recipient (en/nl/de, several zones);
  then `connections` worker threads each run `outbox.delivery.deliver_due()` in a loop: claim
  a batch (`--batch`, default `delivery.BATCH`) through the queue, send it over one SMTP
  connection (Django's `MAILERS` SMTP backend), record each message's `delivered_at`.
Floor (same run, same sink, same number of connections): the stdlib builds an
  `email.message.EmailMessage` (text + HTML alternative, same Message-ID) from the same
  pre-rendered texts and sends each with `smtplib` over `connections` persistent connections.

The sink is aiosmtpd in its own process; it counts Message-IDs, so duplicates are exact.
`--rounds N` alternates outbox and floor rounds and keeps the best of each (a shared
machine's load changes under a run). Reports: both times, their ratio (target <= 2), p50/p99 from due time to SMTP 250 over all
outbox messages, duplicates, and the share of the outbox time spent enqueueing; also the CPU
time of this process in each phase (the sink's excluded) — on a shared machine the CPU ratio
moves less than the wall-clock ratio — and the load average before and after. The last line is
JSON {name, size, seconds, floor_seconds, ratio, cpu_ratio, load_average, peak_mb, ...}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import smtplib
import sys
import threading
import time
from collections import Counter
from email.message import EmailMessage
from typing import Any

from benchmarks._db import prepare_database, setup_django

ZONES = ("Europe/Amsterdam", "Europe/London", "Europe/Berlin", "America/New_York")
LOCALES = ("en", "nl", "de")
ADMINS_PER_CUSTOMER = 5


# --- the sink (own process) -----------------------------------------------------------------


def _sink_process(ready: Any, stop: Any, report: Any) -> None:
    import asyncio  # noqa: F401 - aiosmtpd needs the loop machinery in this process
    import email
    import email.policy

    from aiosmtpd.controller import Controller

    ids: Counter[str] = Counter()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            content = bytes(envelope.original_content or envelope.content)
            head = content.split(b"\r\n\r\n", 1)[0]
            parsed = email.message_from_bytes(head, policy=email.policy.compat32)
            ids[str(parsed.get("Message-ID", "")).strip()] += 1
            return "250 OK"

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.put(port)
    stop.wait()
    controller.stop()
    report.put(dict(ids))


class Sink:
    def __enter__(self) -> Sink:
        ctx = multiprocessing.get_context("spawn")
        self._ready, self._report = ctx.Queue(), ctx.Queue()
        self._stop = ctx.Event()
        self._proc = ctx.Process(
            target=_sink_process, args=(self._ready, self._stop, self._report), daemon=True
        )
        self._proc.start()
        self.port: int = self._ready.get(timeout=30)
        return self

    def finish(self) -> dict[str, int]:
        self._stop.set()
        ids: dict[str, int] = self._report.get(timeout=60)
        self._proc.join(timeout=30)
        return ids

    def __exit__(self, *exc: object) -> None:
        if self._proc.is_alive():
            self._stop.set()
            self._proc.join(timeout=10)


# --- catalogue ------------------------------------------------------------------------------


def _catalogue(size: int) -> tuple[Any, Any]:
    from releasedesk.catalog.models import Contact, Customer, Instance, Product, Subscription

    product = Product.objects.create(slug="presenter", name="Presenter")
    instance = Instance.objects.create(
        slug="saas-eu", name="SaaS EU", kind="shared", product=product
    )
    n_customers = (size + ADMINS_PER_CUSTOMER - 1) // ADMINS_PER_CUSTOMER
    customers = Customer.objects.bulk_create(
        [
            Customer(
                slug=f"c{i:06d}",
                name=f"Customer {i:06d}",
                timezone=ZONES[i % len(ZONES)],
                locale=LOCALES[i % len(LOCALES)],
            )
            for i in range(n_customers)
        ],
        batch_size=1000,
    )
    Subscription.objects.bulk_create(
        [Subscription(customer=c, product=product, instance=instance) for c in customers],
        batch_size=1000,
    )
    contacts = []
    for i in range(size):
        customer = customers[i // ADMINS_PER_CUSTOMER]
        contacts.append(
            Contact(
                customer=customer,
                name=f"Admin {i:06d}",
                email=f"admin{i:06d}@customer{i // ADMINS_PER_CUSTOMER:06d}.test",
                roles=["admin"],
            )
        )
    Contact.objects.bulk_create(contacts, batch_size=1000)
    return product, instance


# --- outbox run -----------------------------------------------------------------------------


def _outbox_run(
    size: int, connections: int, port: int, generation: int = 1, batch: int = 0
) -> dict[str, Any]:
    import datetime as dt

    from django.conf import settings
    from django.db import connection as db_connection
    from django.db import transaction

    from releasedesk.catalog.models import Instance, Product
    from releasedesk.core import clock
    from releasedesk.outbox import audiences, delivery, services
    from releasedesk.outbox.models import Message
    from releasedesk.outbox.rendering import MessageContext

    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 30},
        }
    }
    product = Product.objects.get(slug="presenter")
    instance = Instance.objects.get(slug="saas-eu")
    starts = clock.now() + dt.timedelta(days=7)
    context = MessageContext(
        release_version="5.4.0",
        products=("Presenter",),
        instance_name="saas-eu",
        starts_at=starts,
        deadline=starts - dt.timedelta(hours=5),
        consent_mode="opt_out",
        opt_out_cap=2,
        consent_links=(("Opt out", "https://releasedesk.example/portal/c/TOKEN"),),
        changes=("Presentations load twice as fast", "Quizzes can be exported"),
        contact_text="support@vendor.example",
    )
    batch = batch or delivery.BATCH
    began, cpu_began = time.perf_counter(), time.process_time()
    with transaction.atomic():
        audience = audiences.affected_org_admins([product], [instance])
        result = services.enqueue_audience(
            audience=audience,
            kind="advance_notice",
            due_at=clock.now(),
            context=context,
            subject_ref=f"i{instance.pk}",
            generation=generation,
        )
    enqueued = time.perf_counter()
    if result.created != size:
        raise SystemExit(f"enqueued {result.created} messages, expected {size}")
    db_connection.close()

    errors: list[BaseException] = []

    def work(n: int) -> None:
        from django.db import connection as thread_connection

        try:
            while delivery.deliver_due(owner=f"bench-{n}", limit=batch):
                pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    finished, cpu_finished = time.perf_counter(), time.process_time()
    if errors:
        raise SystemExit(f"a delivery thread failed: {errors[0]!r}")
    rows = list(
        Message.objects.filter(key__contains=f":g{generation}:").values_list(
            "state", "due_at", "delivered_at"
        )
    )
    latencies = sorted(
        (delivered - due).total_seconds() for _, due, delivered in rows if delivered is not None
    )
    states = Counter(state for state, _, _ in rows)
    return {
        "seconds": finished - began,
        "cpu_seconds": cpu_finished - cpu_began,
        "enqueue_seconds": enqueued - began,
        "deliver_seconds": finished - enqueued,
        "states": dict(states),
        "p50": latencies[len(latencies) // 2] if latencies else None,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        if latencies
        else None,
    }


# --- floor ----------------------------------------------------------------------------------


def _texts(generation: int) -> list[tuple[str, str, str, str, str]]:
    from releasedesk.outbox.models import Message

    return list(
        Message.objects.filter(key__contains=f":g{generation}:")
        .order_by("pk")
        .values_list("to_address", "subject", "body_text", "body_html", "message_id")
    )


def _floor_run(
    texts: list[tuple[str, str, str, str, str]], connections: int, port: int, sender: str
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process)."""
    chunks = [texts[i::connections] for i in range(connections)]
    errors: list[BaseException] = []

    def work(chunk: list[tuple[str, str, str, str, str]]) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                for to, subject, text, html, message_id in chunk:
                    msg = EmailMessage()
                    msg["Subject"] = subject
                    msg["From"] = sender
                    msg["To"] = to
                    msg["Message-ID"] = message_id
                    msg.set_content(text)
                    msg.add_alternative(html, subtype="html")
                    smtp.send_message(msg)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    began, cpu_began = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"a floor thread failed: {errors[0]!r}")
    return time.perf_counter() - began, time.process_time() - cpu_began


def _batch_default() -> int:
    from releasedesk.outbox import delivery

    return delivery.BATCH


def _duplicates(ids: dict[str, int]) -> int:
    return sum(n - 1 for n in ids.values() if n > 1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks notices",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", type=int, default=10_000, help="notices (default 10000)")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections (default 4)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate outbox and floor rounds, keep the best of each (default 1)",
    )
    parser.add_argument(
        "--batch", type=int, default=0, help="messages per claim (default: delivery.BATCH)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args(argv)
    if not 1 <= args.size <= 1_000_000 or not 1 <= args.connections <= 64:
        parser.error("--size must be 1-1000000 and --connections 1-64")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be 1-20")
    if not 0 <= args.batch <= 1000:
        parser.error("--batch must be 0-1000 (0: delivery.BATCH)")
    load_before = os.getloadavg()[0]

    cleanup = prepare_database(args.keep)
    try:
        setup_django()
        from django.conf import settings
        from django.db import connection

        def say(text: str) -> None:
            if not args.json:
                print(text, file=sys.stderr, flush=True)

        say(
            f"notices benchmark on {connection.vendor}: {args.size} notices, {args.connections} connections"
        )
        _catalogue(args.size)
        say("  catalogue ready")
        outbox: dict[str, Any] | None = None
        outbox_ids: dict[str, int] = {}
        outbox_cpu = float("inf")
        floor_seconds, floor_cpu = float("inf"), float("inf")
        floor_ids: dict[str, int] = {}
        for round_no in range(1, args.rounds + 1):
            with Sink() as sink:
                run = _outbox_run(
                    args.size, args.connections, sink.port, generation=round_no, batch=args.batch
                )
                ids = sink.finish()
            say(
                f"  round {round_no} outbox: {run['seconds']:.2f} s (enqueue "
                f"{run['enqueue_seconds']:.2f} s, deliver {run['deliver_seconds']:.2f} s; "
                f"CPU {run['cpu_seconds']:.2f} s)"
            )
            if outbox is None or run["seconds"] < outbox["seconds"]:
                outbox, outbox_ids = run, ids
            outbox_cpu = min(outbox_cpu, run["cpu_seconds"])
            texts = _texts(round_no)
            with Sink() as sink:
                seconds, cpu = _floor_run(
                    texts, args.connections, sink.port, settings.DEFAULT_FROM_EMAIL
                )
                ids = sink.finish()
            say(f"  round {round_no} floor: {seconds:.2f} s (CPU {cpu:.2f} s)")
            floor_cpu = min(floor_cpu, cpu)
            if seconds < floor_seconds:
                floor_seconds, floor_ids = seconds, ids
        assert outbox is not None
        done = outbox["states"].get("done", 0)
        result = {
            "name": "notices",
            "size": args.size,
            "vendor": connection.vendor,
            "connections": args.connections,
            "rounds": args.rounds,
            "seconds": round(outbox["seconds"], 3),
            "floor_seconds": round(floor_seconds, 3),
            "ratio": round(outbox["seconds"] / floor_seconds, 3),
            "batch": args.batch or _batch_default(),
            "cpu_seconds": round(outbox_cpu, 3),
            "floor_cpu_seconds": round(floor_cpu, 3),
            "cpu_ratio": round(outbox_cpu / floor_cpu, 3),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "enqueue_seconds": round(outbox["enqueue_seconds"], 3),
            "deliver_seconds": round(outbox["deliver_seconds"], 3),
            "deliver_ratio": round(outbox["deliver_seconds"] / floor_seconds, 3),
            "notices_per_second": round(args.size / outbox["seconds"]),
            "floor_per_second": round(args.size / floor_seconds),
            "p50_due_to_250_seconds": round(outbox["p50"], 3)
            if outbox["p50"] is not None
            else None,
            "p99_due_to_250_seconds": round(outbox["p99"], 3)
            if outbox["p99"] is not None
            else None,
            "delivered": done,
            "states": outbox["states"],
            "received": sum(outbox_ids.values()),
            "distinct_message_ids": len(outbox_ids),
            "duplicates": _duplicates(outbox_ids),
            "floor_received": sum(floor_ids.values()),
            "floor_duplicates": _duplicates(floor_ids),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        if not args.json:
            print(
                f"\n{connection.vendor}, {args.size} notices over {args.connections} connections\n"
                f"outbox (render+enqueue+deliver): {result['seconds']} s = "
                f"{result['notices_per_second']:,}/s  (enqueue {result['enqueue_seconds']} s)\n"
                f"floor (stdlib EmailMessage+smtplib): {result['floor_seconds']} s = "
                f"{result['floor_per_second']:,}/s\n"
                f"ratio {result['ratio']} (delivery alone {result['deliver_ratio']}; CPU "
                f"{result['cpu_seconds']} s vs {result['floor_cpu_seconds']} s = "
                f"{result['cpu_ratio']}); load average {result['load_average']}\n"
                f"due->250 p50 {result['p50_due_to_250_seconds']} s, p99 "
                f"{result['p99_due_to_250_seconds']} s; delivered {done}, duplicates "
                f"{result['duplicates']}"
            )
        print(json.dumps(result))
        ok = done == args.size and result["duplicates"] == 0 and result["received"] == args.size
        return 0 if ok else 1
    finally:
        cleanup()
