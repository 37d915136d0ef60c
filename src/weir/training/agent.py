"""``weir agent``: the one long-running process that keeps the loop turning.

Each tick runs, in order, the monitors that are due, the retraining triggers (so drift found by a monitor
fires its trigger in the same tick, and a job that passes its gate may start a rollout) and the
rollouts' analyses. All of its state is in the metadata store, so an agent killed at any moment and
started again goes on where it was: a rollout's traffic and its state always move in one transaction.

Only one agent works on a store at a time: it holds the lease ``agent``, renewed every tick and by a
heartbeat thread while a long tick trains a model, and expiring ``ttl`` seconds after the last renewal.
A second agent is refused while the lease is live, and takes over once it has expired (at once when the
holder was a process of this machine that is gone).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from weir.errors import ConflictError
from weir.monitoring.monitor_runs import MonitorRun
from weir.monitoring.monitors import Monitors
from weir.store import Database
from weir.store.lease import Lease
from weir.training.rollouts import Rollout, Rollouts
from weir.training.triggers import Firing, Triggers

logger = logging.getLogger(__name__)

LEASE = "agent"


def _dead_here(holder: str) -> bool:
    """Whether ``holder`` (``host:pid:tag``) names a process of this machine that no longer runs."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class AgentRunningError(ConflictError):
    code = "agent_running"


@dataclass(frozen=True)
class Tick:
    at: datetime
    monitor_runs: list[MonitorRun] = field(default_factory=list)
    firings: list[Firing] = field(default_factory=list)
    rollouts: list[Rollout] = field(default_factory=list)


class Agent:
    def __init__(
        self,
        db: Database,
        monitors: Monitors,
        triggers: Triggers,
        rollouts: Rollouts,
        *,
        interval: float = 10.0,
        ttl: float = 120.0,
        holder: str | None = None,
    ) -> None:
        self.monitors = monitors
        self.triggers = triggers
        self.rollouts = rollouts
        self.interval = interval
        self.lease = Lease(db, LEASE, holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}", ttl=ttl)

    def acquire(self) -> None:
        """Take or renew the lease. A holder on this machine whose process is gone (killed) is taken over
        at once; anywhere else its lease must expire first."""
        if self.lease.acquire():
            return
        held = self.lease.holder_now()
        if held is not None and _dead_here(held[0]) and self.lease.acquire(take_from=held[0]):
            return
        who = f"{held[0]} since {held[1]:%Y-%m-%d %H:%M:%S} UTC, until at least {held[2]:%H:%M:%S}" if held else "?"
        raise AgentRunningError(
            f"Another weir agent holds this store ({who}); only one agent may run on a store. Stop it, or wait for "
            "its lease to expire if it died."
        )

    def tick(self, now: datetime | None = None) -> Tick:
        """One pass: monitors that are due, then triggers, then rollouts (the lease renewed between them)."""
        now = now or datetime.now(UTC)
        self.acquire()
        runs = self.monitors.run_due(now)
        self.acquire()
        firings = self.triggers.tick(now)
        self.acquire()
        moved = self.rollouts.tick()
        return Tick(now, runs, firings, moved)

    def run(self, stop: threading.Event | None = None, *, on_tick: Callable[[Tick], None] | None = None) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set; the lease is released on the way out."""
        stop = stop or threading.Event()
        self.acquire()
        logger.info("agent %s started (every %.1f s)", self.lease.holder, self.interval)
        beating = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(beating,), name="weir-agent-lease", daemon=True)
        heart.start()  # a tick that trains a model may outlast the lease: keep it renewed meanwhile
        try:
            while not stop.is_set():
                try:
                    done = self.tick()
                except AgentRunningError:
                    raise
                except Exception:  # the store may be briefly away: try again next tick
                    logger.exception("agent tick failed")
                else:
                    if on_tick is not None:
                        on_tick(done)
                stop.wait(self.interval)
        finally:
            beating.set()
            heart.join(5)
            self.lease.release()
            logger.info("agent %s stopped", self.lease.holder)

    def _heartbeat(self, done: threading.Event) -> None:
        while not done.wait(self.lease.ttl.total_seconds() / 4):
            try:
                if not self.lease.acquire():
                    logger.error("agent %s lost its lease; it stops at the end of this tick", self.lease.holder)
                    return
            except Exception:  # the store may be briefly away; the next beat retries
                logger.exception("agent %s could not renew its lease", self.lease.holder)
