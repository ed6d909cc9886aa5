"""Hypothesis profiles for the property tests (tests/test_properties_*.py).

"ci" (the default) keeps `make test` fast: few examples, no per-example deadline (the first
example of a test pays for warming caches, and the machine is shared). "deep" runs many more:
`LINLI_HYPOTHESIS_PROFILE=deep .venv/bin/pytest tests/test_properties_*.py`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# One app per test function, shared by its examples: the fixtures are meant to outlive them.
_SHARED_APP = (HealthCheck.function_scoped_fixture, HealthCheck.too_slow)
# Examples per test: (pure parsers, requests over HTTP into the database).
_EXAMPLES = {"ci": (150, 20), "deep": (5_000, 400)}

PROFILE = os.environ.get("LINLI_HYPOTHESIS_PROFILE", "ci")
if PROFILE not in _EXAMPLES:
    raise ValueError(f"LINLI_HYPOTHESIS_PROFILE is one of {sorted(_EXAMPLES)}, not {PROFILE!r}")
for name, (pure, _http) in _EXAMPLES.items():
    settings.register_profile(
        name,
        max_examples=pure,
        deadline=None,
        suppress_health_check=_SHARED_APP,
        print_blob=True,
    )
settings.load_profile(PROFILE)

# Decorators for the two kinds of test.
PURE = settings(max_examples=_EXAMPLES[PROFILE][0])
HTTP = settings(max_examples=_EXAMPLES[PROFILE][1])
