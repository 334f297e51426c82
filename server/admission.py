"""Admission control: how many synthesis jobs run at once, in which order, and who is turned away.

Two gates guard the workers. Every job passes the shared worker gate (``workers`` slots, and a
bounded queue of requests waiting for one). Jobs of a sequential vocoder (one that is not
:attr:`~vocoders.base.Vocoder.parallel`: WaveNet, one sample at a time) first pass their own
smaller gate, which never queues: such a job takes seconds to minutes, so a caller is better told
at once that the server is busy than left waiting behind others. Because the sequential gate is
smaller than the worker gate, sequential vocoders can never hold every worker and starve the
parallel ones.

The worker queue is strictly first come, first served, for every vocoder alike: a freed slot is
handed to the longest waiter, never to whichever thread wakes first, so a request's wait is
bounded by its queue position times the job time. This is the only place that refuses a request
for capacity (gRPC's own concurrency cap is off), so every refusal is counted here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from tts.units import MS_PER_S

logger = logging.getLogger(__name__)

# How often a waiting request checks whether its caller gave up (deadline, cancel, shutdown).
WAIT_POLL_S = 0.05


class Overloaded(Exception):
    """Every slot is taken and the wait queue is full; the caller should retry later."""


class StoppedWaiting(Exception):
    """The caller went away (deadline passed, cancelled) while waiting for a slot."""


class _Ticket:
    """One waiter's place in a gate's queue; ``granted`` once a released slot is handed to it."""

    __slots__ = ("granted",)

    def __init__(self) -> None:
        self.granted = False


class JobGate:
    """At most ``capacity`` holders at once and at most ``max_waiting`` more waiting, served in arrival order."""

    def __init__(self, name: str, capacity: int, max_waiting: int) -> None:
        if capacity < 1 or max_waiting < 0:
            raise ValueError(f"gate {name}: capacity must be >= 1 and max_waiting >= 0")
        self.name = name
        self.capacity = capacity
        self.max_waiting = max_waiting
        self._cond = threading.Condition()
        self._in_use = 0
        self._queue: deque[_Ticket] = deque()
        self._refused = 0

    @property
    def in_use(self) -> int:
        with self._cond:
            return self._in_use

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._queue)

    @property
    def refused(self) -> int:
        """Requests turned away by this gate since the server started."""
        with self._cond:
            return self._refused

    def acquire(self, should_stop: Callable[[], bool] | None = None) -> None:
        """Take a slot, waiting in the bounded first-come-first-served queue if need be.

        Raises :class:`Overloaded` at once when the queue is full, and :class:`StoppedWaiting`
        when ``should_stop`` turns true while waiting.
        """
        with self._cond:
            # A free slot with people queued cannot happen (release hands it over), so a newcomer
            # never overtakes a waiter.
            if self._in_use < self.capacity:
                self._in_use += 1
                return
            if len(self._queue) >= self.max_waiting:
                self._refused += 1
                raise Overloaded(self._overload_message())
            ticket = _Ticket()
            self._queue.append(ticket)
            while not ticket.granted:
                if should_stop is not None and should_stop():
                    self._queue.remove(ticket)
                    raise StoppedWaiting(f"gave up waiting for a {self.name} slot")
                self._cond.wait(WAIT_POLL_S)

    def release(self) -> None:
        """Free a slot: it goes straight to the longest waiter, if any."""
        with self._cond:
            if self._in_use <= 0:
                raise RuntimeError(f"gate {self.name}: release without acquire")
            if self._queue:
                self._queue.popleft().granted = True  # the slot changes hands; in_use stays
                self._cond.notify_all()
            else:
                self._in_use -= 1

    def wait_idle(self, timeout: float) -> bool:
        """Block until no slot is held (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._in_use or self._queue:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, WAIT_POLL_S))
            return True

    def _overload_message(self) -> str:
        if self.max_waiting:
            return (
                f"all {self.capacity} {self.name} slots are busy and {self.max_waiting} requests are "
                "already waiting; retry later"
            )
        return f"all {self.capacity} {self.name} slots are busy; retry later"


class Admission:
    """The worker gate shared by every vocoder and the sequential vocoders' own gate in front of it."""

    def __init__(self, workers: int, max_sequential_jobs: int, max_queue: int) -> None:
        if not 1 <= max_sequential_jobs < workers:
            raise ValueError("max_sequential_jobs must be at least 1 and below workers")
        self.workers = JobGate("worker", workers, max_queue)
        self.sequential = JobGate("sequential-vocoder (WaveNet)", max_sequential_jobs, 0)

    @contextmanager
    def job(self, parallel: bool, should_stop: Callable[[], bool] | None = None) -> Iterator[float]:
        """Hold the slots one job needs for the ``with`` block; yields the milliseconds spent waiting.

        ``parallel``: False when the job runs a sequential vocoder, which needs its gate too.
        """
        t0 = time.perf_counter()
        with ExitStack() as held:
            # The sequential gate first: a refused request must not have taken a worker slot.
            if not parallel:
                self.sequential.acquire(should_stop)
                held.callback(self.sequential.release)
            self.workers.acquire(should_stop)
            held.callback(self.workers.release)
            yield (time.perf_counter() - t0) * MS_PER_S

    @property
    def refused(self) -> int:
        """Requests refused for capacity since the server started, by either gate."""
        return self.workers.refused + self.sequential.refused

    @property
    def max_handler_threads(self) -> int:
        """RPC handler threads that can be held by admitted or queued jobs at once."""
        return self.workers.capacity + self.workers.max_waiting

    def limits(self, parallel: bool) -> tuple[int, int]:
        """(concurrent jobs, queued requests) a parallel or a sequential vocoder may have."""
        gate = self.workers if parallel else self.sequential
        return gate.capacity, gate.max_waiting
