"""Hypothesis profiles for the fuzz tests.

`ci` (the default): a fixed budget of examples, derandomized (the same examples every run), no deadline (a
shared CI machine is slow at times). `deep`: many more examples, random ones, for a longer run by hand:
`PRAHARI_FUZZ_PROFILE=deep pytest tests/fuzz`.
"""

import os

from hypothesis import HealthCheck, settings

# The database, the world and the client are function-scoped fixtures that every example shares on purpose:
# each example takes its own snapshot before and after, so what earlier examples left is part of "before".
_SHARED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=_SHARED,
    database=None,
    print_blob=True,
)
settings.register_profile("deep", max_examples=2000, deadline=None, suppress_health_check=_SHARED, print_blob=True)
settings.load_profile(os.environ.get("PRAHARI_FUZZ_PROFILE", "ci"))
