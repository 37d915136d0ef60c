"""Traffic split: sticky canary choice by hashed routing key, random mirroring for shadows.

A key lands in one of 10,000 buckets (BLAKE2b of ``endpoint:key``, so that the same key is not
always in the canary of every endpoint); the canary takes the buckets below ``weight × 100``. The
choice is stable for a key at a given weight, and growing the weight only adds keys to the canary:
a key on the canary at 5 % stays there at 25 %. Without a key, requests are split at random.

>>> route = Splitter("churn")
>>> route.to_canary(25.0, "customer-17") == route.to_canary(25.0, "customer-17")
True
>>> route.to_canary(0.0, "customer-17"), route.to_canary(100.0, "customer-17")
(False, True)
"""

from __future__ import annotations

import hashlib
import random

BUCKETS = 10_000


class Splitter:
    def __init__(self, endpoint: str, *, seed: int | None = None) -> None:
        self.salt = endpoint.encode() + b":"
        self.random = random.Random(seed)

    def bucket(self, key: str) -> int:
        digest = hashlib.blake2b(self.salt + key.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % BUCKETS

    def to_canary(self, weight: float, key: str | None) -> bool:
        if weight <= 0:
            return False
        if weight >= 100:
            return True
        where = self.bucket(key) if key else self.random.randrange(BUCKETS)
        return where < round(weight * BUCKETS / 100)

    def mirror(self, percent: float) -> bool:
        return percent >= 100 or self.random.random() * 100 < percent
