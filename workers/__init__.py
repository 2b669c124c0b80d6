"""Dramatiq workers: the broker, middleware, one module per pipeline stage.

Import ``workers.actors`` to get every actor registered on the configured broker.
"""
