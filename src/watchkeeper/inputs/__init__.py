"""Inputs the server reads by itself: log files it follows and commands it supervises.

Each external line format has its module (``caddy``, ``ndjson``, ``levels``); ``tail``
follows files across rotations; ``batch`` turns what the lines produced into one batch of
events that carries the read offsets with it, so both are committed together; ``runner``
starts it all from the server's lifespan. ``statsd`` is the UDP statsd receiver.
"""
