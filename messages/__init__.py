"""The wire: subjects, headers, streams, the gateway client, ingest and publishing.

A participant's gateway needs only :class:`messages.gateway.Gateway`.
"""
