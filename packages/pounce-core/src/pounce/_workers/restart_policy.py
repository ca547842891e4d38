"""When to restart a crashed worker, and when to stop trying.

Pure bookkeeping, no clock of its own: the supervisor tells it when a slot's
worker crashed and how long that worker had been serving, and it answers
with a delay before the next attempt, or ``None`` to give up.

* Each crash of a slot whose worker had not served for ``stable_after``
  seconds extends that slot's run of consecutive crashes; a worker that
  served longer than that starts a new run (an occasional crash is not a
  loop).
* The delay doubles with each consecutive crash, from ``first_delay`` up to
  ``max_delay``: a bug that kills workers at once does not turn into a busy
  loop of interpreter start-ups.
* After ``max_crashes`` consecutive crashes the slot is in a crash loop and
  the server gives up, with a message, instead of restarting forever.
"""

from __future__ import annotations

__all__ = ["RestartPolicy"]


class RestartPolicy:
    """Consecutive-crash counts per slot; owned by one supervisor loop."""

    __slots__ = ("_runs", "first_delay", "max_crashes", "max_delay", "stable_after")

    def __init__(
        self,
        *,
        first_delay: float = 0.1,
        max_delay: float = 5.0,
        max_crashes: int = 5,
        stable_after: float = 10.0,
    ) -> None:
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.max_crashes = max_crashes
        self.stable_after = stable_after
        self._runs: dict[int, int] = {}

    def crashed(self, slot: int, served_for: float | None) -> float | None:
        """A worker of ``slot`` crashed after serving ``served_for`` seconds
        (``None``: it never got to serve). Returns the delay before the next
        attempt, or ``None`` to give up."""
        if served_for is not None and served_for >= self.stable_after:
            self._runs[slot] = 0
        count = self._runs.get(slot, 0) + 1
        self._runs[slot] = count
        if count >= self.max_crashes:
            return None
        delay: float = min(self.max_delay, self.first_delay * 2.0 ** (count - 1))
        return delay

    def consecutive(self, slot: int) -> int:
        """How many times in a row ``slot``'s worker has crashed."""
        return self._runs.get(slot, 0)

    def reset(self, slot: int) -> None:
        """Forget ``slot``'s crashes (a new generation replaced its worker)."""
        self._runs.pop(slot, None)
