"""Retry schedules with jitter, shared by outbound webhooks and mail.

Both retry a temporary failure on a fixed schedule spread by a random fraction, so receivers that
failed together do not all get their retries at the same moment.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetrySchedule:
    """The wait after the 1st, 2nd, … failure; after the last one the work is given up."""

    delays: tuple[timedelta, ...]
    jitter: float = 0.2

    def exhausted(self, failures: int) -> bool:
        """True once `failures` attempts have failed and no retry is left."""
        return failures > len(self.delays)

    def delay_after(self, failures: int, retry_after: float | None = None) -> timedelta:
        """How long to wait after the `failures`-th failure: the other side's word when it gave
        one (at least a second, at most the longest delay), else the schedule with jitter."""
        if retry_after is not None:
            return min(timedelta(seconds=max(retry_after, 1.0)), self.delays[-1])
        spread = random.uniform(1 - self.jitter, 1 + self.jitter)
        return self.delays[min(failures, len(self.delays)) - 1] * spread
