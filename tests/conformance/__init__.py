"""Conformance of the project's XSDs (contracts/schemas) with the formats of exchange.md §4."""
