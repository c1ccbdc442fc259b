"""Inputs the server runs itself besides its HTTP API (the statsd UDP receiver)."""
