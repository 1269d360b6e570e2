"""The records of tests/records/conftest.py, for the governance tests that score their access."""

from tests.records.conftest import records  # noqa: F401  (the fixture)
