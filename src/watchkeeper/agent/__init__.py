"""``watchkeeper agent``: the node agent.

It supervises programs (restart policies with back-off, timeouts, recurring runs), parses their
level-marked output, keeps every message in a local SQLite store, and forwards what the server
should see (its own state, each run as a task, log messages) in idempotent batches.
"""
