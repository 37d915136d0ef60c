"""Alert damping, events and a webhook delivered to a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from weir.errors import ValidationError
from weir.events import AlertRaised, AlertResolved, Event, EventBus
from weir.monitoring.alerts import AlertPolicy

T0 = datetime(2026, 3, 3, 12, tzinfo=UTC)


def test_flapping_is_damped_and_recovery_rearms() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(AlertRaised, seen.append)
    bus.subscribe(AlertResolved, seen.append)
    policy = AlertPolicy(cooldown=timedelta(hours=1), bus=bus)
    fired = [
        policy.observe("churn/drift", failing, at=T0 + timedelta(minutes=m), message="income drifted")
        for m, failing in [(0, True), (5, True), (30, True), (61, True), (62, False), (63, False), (64, True)]
    ]
    assert [a is not None for a in fired] == [True, False, False, True, False, False, True]
    assert [a.reminder for a in fired if a] == [False, True, False]
    assert [type(e).__name__ for e in seen] == ["AlertRaised", "AlertRaised", "AlertResolved", "AlertRaised"]


def test_keys_are_independent() -> None:
    policy = AlertPolicy(cooldown=timedelta(hours=1))
    assert policy.observe("a", True, at=T0) is not None
    assert policy.observe("b", True, at=T0) is not None
    assert policy.observe("a", True, at=T0 + timedelta(minutes=1)) is None


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, object]]]]:
    received: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def test_webhook_receives_the_alert(receiver: tuple[str, list[dict[str, object]]]) -> None:
    url, received = receiver
    policy = AlertPolicy(webhook_url=url)
    policy.observe("churn/auc", True, at=T0, message="estimated AUC 0.71 < 0.80", details={"auc": 0.71})
    assert received == [
        {
            "key": "churn/auc",
            "message": "estimated AUC 0.71 < 0.80",
            "at": T0.isoformat(),
            "reminder": False,
            "details": {"auc": 0.71},
        }
    ]


def test_unreachable_webhook_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    policy = AlertPolicy(webhook_url="http://127.0.0.1:1/hook", webhook_timeout=1)
    assert policy.observe("k", True, at=T0) is not None
    assert "alert webhook http://127.0.0.1:1/hook failed" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"cooldown": timedelta(0)}, "cooldown"), ({"webhook_url": "ftp://x"}, "http://")],
)
def test_bad_parameters(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        AlertPolicy(**kwargs)  # type: ignore[arg-type]


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        AlertPolicy().observe("k", True, at=datetime(2026, 1, 1))
