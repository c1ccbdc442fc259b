"""watchkeeper: a self-hosted monitor for distributed work.

Everything that arrives is an event appended to one log; every view (tasks, components,
incidents, ...) is derived from that log and can be rebuilt from it.
"""

__version__ = "0.1.0"
