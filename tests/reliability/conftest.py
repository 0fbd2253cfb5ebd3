"""The reliability tests drive the worker with the same fixtures as the error scenarios."""

from tests.integration.conftest import clock, make_worker, plex, store  # noqa: F401
