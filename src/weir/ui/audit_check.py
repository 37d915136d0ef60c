"""The audit chain's verification as the dashboard shows it: walking the whole chain is linear in its
length, so a result is reused while the chain's head (newest sequence number and hash) is unchanged and
it is younger than ``ttl`` seconds. A new entry, or an altered head, verifies again at once; an edited older
entry is found at the latest ``ttl`` seconds later, or at once when the page asks (``?verify=1``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from weir.registry.audit import AuditLog, AuditReport


@dataclass(frozen=True)
class Verified:
    report: AuditReport
    at: datetime  # when the chain was walked
    cached: bool  # reused from an earlier walk


class AuditCheck:
    def __init__(self, audit: AuditLog, *, ttl: float = 30.0) -> None:
        self.audit = audit
        self.ttl = ttl
        self._lock = threading.Lock()
        self._last: tuple[tuple[int, str], float, Verified] | None = None

    def verified(self, *, force: bool = False) -> Verified:
        """The chain's verification: walked now if forced, the head moved or the last walk is too old."""
        head = self.audit.head()
        with self._lock:  # one walk at a time; the others then reuse it
            last = self._last
            if not force and last is not None and last[0] == head and time.monotonic() - last[1] < self.ttl:
                return Verified(last[2].report, last[2].at, cached=True)
            started = time.monotonic()
            found = Verified(self.audit.verify(), datetime.now(UTC), cached=False)
            self._last = ((found.report.head_seq, found.report.head_hash), started, found)
            return found
