"""Hypothesis profiles for the fuzz suite (applied per test with ``@FUZZ``).

CI (default): 300 examples per test, the whole suite in about 15 s.
Long: ``AGENT_RT_FUZZ=long /tmp/venv/bin/python -m pytest tests/fuzz -q`` runs 25,000 examples per
test (≥ 100,000 sequences in total). ``AGENT_RT_FUZZ_EXAMPLES=N`` sets any other count.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile("fuzz-ci", max_examples=300, deadline=None, suppress_health_check=_SUPPRESS)
settings.register_profile(
    "fuzz-long", max_examples=25_000, deadline=None, suppress_health_check=_SUPPRESS, print_blob=True
)

_mode = os.environ.get("AGENT_RT_FUZZ", "ci")
_examples = os.environ.get("AGENT_RT_FUZZ_EXAMPLES")
if _examples:
    settings.register_profile(
        "fuzz-custom", max_examples=int(_examples), deadline=None, suppress_health_check=_SUPPRESS
    )
    PROFILE = "fuzz-custom"
else:
    PROFILE = "fuzz-long" if _mode == "long" else "fuzz-ci"
FUZZ = settings.get_profile(PROFILE)

#: pytest-timeout's per-test limit does not fit the long profile.
TIMEOUT = 0 if PROFILE != "fuzz-ci" else 120
