"""Shared test configuration: hypothesis profiles.

Profiles (select with HYPOTHESIS_PROFILE=name; CI=true selects "ci"):
  dev  - the default: 100 examples, no deadline (these machines are shared and noisy);
  ci   - derandomized, bounded example counts, no deadline, so CI runs are reproducible;
  long - 2000 examples for every property test that does not set its own count: local bug
         hunting (HYPOTHESIS_PROFILE=long pytest ...).  The tests marked `long` (run with
         `pytest -m long`) set their own, larger example counts and do not need it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None, max_examples=100)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)
