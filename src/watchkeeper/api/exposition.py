"""``/metrics`` for Prometheus, with ``prometheus_client``: watchkeeper's own health and the
fleet, read from the views at each scrape (nothing here is a model of its own).

Label values are bounded: task statuses, agent states and incident groups are the
:data:`TOP` most frequent, the rest summed under ``other``. Series that agents and statsd
clients send are shown with their latest value while they keep arriving, and disappear
``metrics_stale_after`` seconds after the last one was received, so a stopped agent's
programs leave the exposition instead of being reported forever at their last value.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from watchkeeper.events import Event
from watchkeeper.views import components, incidents, metrics, task_times, tasks

#: Label values kept per label before the rest are summed under "other".
TOP = 20
OTHER = "other"
#: Files of an input shown by path (those furthest behind); the rest are one ``other``.
TOP_FILES = 10
#: The tailing gauges: (key in the input's report, name, help, how ``other`` combines them).
TAILING = (
    (
        "lagBytes",
        "watchkeeper_input_lag_bytes",
        "Bytes of a followed file not yet committed (its size minus the committed offset).",
        sum,
    ),
    (
        "lagSeconds",
        "watchkeeper_input_lag_seconds",
        "Seconds since a line of a file that is behind was committed (0 when caught up).",
        max,
    ),
    (
        "idleSeconds",
        "watchkeeper_input_idle_seconds",
        "Seconds since a line of a followed file was committed.",
        max,
    ),
)
#: The seconds of incidents the group counts cover.
INCIDENT_WINDOW = 86400.0
#: The agent's process statistics (``agent/stats.py``) as Prometheus metrics.
PROGRAM_STATS = {
    "cpu": ("program_cpu_percent", "CPU of a program and its children, percent of one core."),
    "rss": ("program_rss_bytes", "Resident memory of a program and its children."),
    "vms": ("program_vms_bytes", "Virtual memory of a program and its children."),
    "threads": ("program_threads", "Threads of a program and its children."),
    "open_files": ("program_open_files", "Open file descriptors of a program and its children."),
    "processes": ("program_processes", "Processes of a program (itself and its children)."),
}
BATCH_BUCKETS = (1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10_000, 50_000, 100_000)
#: Seconds a task waited or ran, for the distributions of the tasks that ended lately.
TASK_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
#: The tasks those distributions cover: those that ended in this many seconds.
TASK_WINDOW = 3600.0
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")


#: Suffixes Prometheus reserves for counters, histograms and summaries: a statsd gauge named
#: so (a timer's ``.count`` and ``.sum``) gets ``_value`` added.
RESERVED = ("_count", "_sum", "_bucket", "_total", "_created", "_info")


def metric_name(text: str) -> str:
    name = _INVALID.sub("_", text)
    name = name if not name[:1].isdigit() else f"_{name}"
    return f"{name}_value" if name.endswith(RESERVED) else name


def label_name(text: str) -> str:
    name = _INVALID_LABEL.sub("_", text)
    if not name or name[:1].isdigit() or name.startswith("__"):
        name = f"tag_{name}"
    return name


def bounded(counts: Iterable[tuple[tuple[str, ...], float]]) -> list[tuple[tuple[str, ...], float]]:
    """The :data:`TOP` largest, and the rest summed under ``other`` in every label."""
    ordered = sorted(counts, key=lambda item: -item[1])
    kept = ordered[:TOP]
    rest = sum(value for _, value in ordered[TOP:])
    if len(ordered) > TOP:
        kept.append(((OTHER,) * len(kept[0][0]), rest))
    return kept


class Exposition:
    """One application's registry: the histograms the ingest path feeds, and the collector
    that reads the rest at each scrape."""

    def __init__(self, state: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.batch_events = Histogram(
            "watchkeeper_ingest_batch_events",
            "Events per batch handed to the writer.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "watchkeeper_commit_latency_seconds",
            "Seconds from a batch handed to the writer to its durable commit.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pending = Gauge(
            "watchkeeper_writer_pending_batches",
            "Batches handed to the writer and not yet committed (the writer's queue).",
            registry=self.registry,
        )
        self.registry.register(FleetCollector(state))

    def instrument(self, writer: Any) -> None:
        """Time every batch the writer is given, whichever writer it is."""
        write: Callable[[list[Event]], Awaitable[Any]] = writer.write

        async def timed(events: list[Event]) -> Any:
            self.batch_events.observe(len(events))
            self.pending.inc()
            start = time.perf_counter()
            try:
                return await write(events)
            finally:
                self.pending.dec()
                self.commit_seconds.observe(time.perf_counter() - start)

        writer.write = timed

    def render(self) -> bytes:
        return generate_latest(self.registry)


class FleetCollector(Collector):
    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state
        yield from self._own(state)
        settings = state.settings
        now = time.time()
        yield from self._tailing(state, now)
        with state.read_engine.connect() as conn:
            yield from self._tasks(conn)
            yield from self._task_times(conn, now)
            yield from self._agents(conn, settings, now)
            yield from self._incidents(conn, now)
            live = metrics.latest(conn, since=now - settings.metrics_stale_after)
        yield from self._series(live, settings.metrics_statsd_prefix)

    @staticmethod
    def _own(state: Any) -> Iterator[Metric]:
        writer = state.writer
        yield CounterMetricFamily(
            "watchkeeper_events_committed",
            "Events committed to the log by this process.",
            value=writer.committed_events,
        )
        yield CounterMetricFamily(
            "watchkeeper_commits", "Transactions committed by the writer.", value=writer.commits
        )
        yield GaugeMetricFamily(
            "watchkeeper_last_seq",
            "Highest committed event sequence number.",
            value=state.hub.latest,
        )
        # Read without making the feeds: this runs on a worker thread, only the loop makes them.
        feeds = getattr(state, "feeds", None)
        yield GaugeMetricFamily(
            "watchkeeper_stream_clients",
            "Live-stream clients connected.",
            value=feeds.clients() if feeds is not None else 0,
        )
        yield CounterMetricFamily(
            "watchkeeper_stream_clients_dropped",
            "Live-stream clients disconnected for falling too far behind.",
            value=feeds.dropped if feeds is not None else 0,
        )
        statsd = state.statsd.status()
        for key, help_text in (
            ("packets", "statsd UDP datagrams received."),
            ("lines", "statsd lines aggregated (UDP and HTTP)."),
            ("malformed", "statsd lines refused as malformed."),
            ("dropped", "statsd values dropped over the bound of keys per flush."),
        ):
            yield CounterMetricFamily(f"watchkeeper_statsd_{key}", help_text, value=statsd[key])

    @staticmethod
    def _tailing(state: Any, now: float) -> Iterator[Metric]:
        running = getattr(state, "inputs", None)
        report = running.tailing(now) if running is not None else {}
        families = [
            (key, GaugeMetricFamily(name, text, labels=["input", "file"]), combine)
            for key, name, text, combine in TAILING
        ]
        for input_id, found in sorted(report.items()):
            found = sorted(found, key=lambda f: (-f["lagBytes"], -f["idleSeconds"], f["path"]))
            kept, rest = found[:TOP_FILES], found[TOP_FILES:]
            for key, family, combine in families:
                for item in kept:
                    family.add_metric([input_id, item["path"]], item[key])
                if rest:
                    family.add_metric([input_id, OTHER], combine(item[key] for item in rest))
        for _, family, _ in families:
            yield family

    @staticmethod
    def _tasks(conn: Any) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "watchkeeper_tasks", "Tasks by current status.", labels=["status"]
        )
        for (status,), count in bounded(((s,), n) for s, n in tasks.status_counts(conn).items()):
            family.add_metric([status], count)
        yield family

    @staticmethod
    def _task_times(conn: Any, now: float) -> Iterator[Metric]:
        """Distributions of the last hour's ended tasks, by agent: a snapshot of a window
        (``histogram_quantile`` reads its buckets without ``rate``), so a gauge histogram."""
        ended = task_times.ended_since(conn, now - TASK_WINDOW)
        by_agent = Counter(agent or "none" for agent, _, _ in ended)
        kept = {agent for (agent,), _ in bounded(((a,), n) for a, n in by_agent.items())}
        for index, name, text in (
            (
                1,
                "watchkeeper_task_queue_seconds",
                "Seconds waiting, of tasks ended in the last hour.",
            ),
            (
                2,
                "watchkeeper_task_run_seconds",
                "Seconds running, of tasks ended in the last hour.",
            ),
        ):
            values: dict[str, list[float]] = {}
            for item in ended:
                agent = item[0] or "none"
                values.setdefault(agent if agent in kept else OTHER, []).append(item[index])
            family = GaugeHistogramMetricFamily(name, text, labels=["agent"])
            for agent, found in sorted(values.items()):
                buckets = [
                    (floatToGoString(b), float(sum(v <= b for v in found))) for b in TASK_BUCKETS
                ]
                buckets.append(("+Inf", float(len(found))))
                family.add_metric([agent], buckets, gsum_value=sum(found))
            yield family

    @staticmethod
    def _agents(conn: Any, settings: Any, now: float) -> Iterator[Metric]:
        found = components.list_components(
            conn,
            type="agent",
            now=now,
            stale_after=settings.stale_after,
            offline_after=settings.offline_after,
        )
        counts = Counter((a["state"] or "unknown", a["liveness"]) for a in found)
        family = GaugeMetricFamily(
            "watchkeeper_agents", "Agents by state and liveness.", labels=["state", "liveness"]
        )
        for labels, count in bounded(counts.items()):
            family.add_metric(list(labels), count)
        yield family

    @staticmethod
    def _incidents(conn: Any, now: float) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "watchkeeper_incident_group_incidents",
            "Incidents of the last 24 hours by fingerprint group.",
            labels=["fingerprint"],
        )
        found = incidents.groups(conn, since=now - INCIDENT_WINDOW)
        for (fingerprint,), count in bounded(((g["fingerprint"],), g["count"]) for g in found):
            family.add_metric([fingerprint], count)
        yield family

    @staticmethod
    def _series(live: list[dict[str, Any]], prefix: str) -> Iterator[Metric]:
        programs = {
            key: GaugeMetricFamily(f"watchkeeper_{name}", text, labels=["agent", "program"])
            for key, (name, text) in PROGRAM_STATS.items()
        }
        statsd: dict[str, GaugeMetricFamily] = {}
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        for item in live:
            name, agent = item["name"], item["agent"]
            if agent is not None and name.startswith(f"{agent}."):
                name = name[len(agent) + 1 :]
                program, _, stat = name.rpartition(".")
                if stat in programs and program and not item["tags"]:
                    programs[stat].add_metric([agent, program], item["value"])
                    continue
            labels = {label_name(k): v for k, v in item["tags"].items()}
            if agent is not None:
                labels["agent"] = agent
            full = metric_name(prefix + name)
            key = (full, tuple(sorted(labels.items())))
            if key in seen:  # two names that read the same once made valid: the first wins
                continue
            seen.add(key)
            family = statsd.get(full)
            if family is None:
                family = statsd[full] = GaugeMetricFamily(full, f"statsd series {name}")
            family.add_sample(full, labels, item["value"])
        yield from programs.values()
        yield from statsd.values()
