"""Time for durable timers (sleeps, retry backoff, signal deadlines) and the guest's `now`.

Leases and heartbeats always use real time. Durable time can run faster for
tests and demos: with TD_CLOCK_SPEED=3600 a 48-hour sleep takes 48 seconds.
Every process given the same TD_CLOCK_SPEED and TD_CLOCK_T0 agrees on the time.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Clock:
    speed: float = 1.0
    t0: float = field(default_factory=time.time)

    def time(self) -> float:
        real = time.time()
        return real if self.speed == 1.0 else self.t0 + (real - self.t0) * self.speed

    def ms(self) -> int:
        return int(self.time() * 1000)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def real_seconds(self, seconds: float) -> float:
        """How long `seconds` of this clock's time take in real time."""
        return seconds / self.speed

    @classmethod
    def from_env(cls) -> Clock:
        speed = float(os.environ.get("TD_CLOCK_SPEED", "1") or 1)
        if speed <= 0:
            raise ValueError(f"TD_CLOCK_SPEED must be > 0, got {speed}")
        t0 = float(os.environ.get("TD_CLOCK_T0", "0") or 0) or time.time()
        return cls(speed, t0)
