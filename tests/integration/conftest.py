"""Fixtures of the integration tests."""

from tests.integration.pipeline import pipeline_env

__all__ = ["pipeline_env"]
