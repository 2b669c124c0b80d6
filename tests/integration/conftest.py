"""Fixtures of the integration tests."""

from tests.integration.deadletter import dead
from tests.integration.pipeline import pipeline_env

__all__ = ["dead", "pipeline_env"]
