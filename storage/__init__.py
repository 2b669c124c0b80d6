"""Storage: SQLModel models, the engine, the blob store, migrations and queries.

SQL is the source of truth; Redis and NATS are only transports (design.md ◆).
"""
