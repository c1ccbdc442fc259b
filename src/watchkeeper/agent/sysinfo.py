"""The node's hardware and system, for the ``get_*_info`` commands (psutil)."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import time
from typing import Any

import psutil


def cpu_info() -> list[dict[str, Any]]:
    """One entry per logical CPU, as the original's ``cpu.CPUInfo``."""
    models = _cpu_models()
    freq = psutil.cpu_freq(percpu=True) or []
    count = psutil.cpu_count() or 1
    out = []
    for n in range(count):
        entry: dict[str, Any] = {"cpu": n, "modelName": models[n] if n < len(models) else ""}
        if n < len(freq):
            entry["mhz"] = freq[n].current
        out.append(entry)
    return out


def _cpu_models() -> list[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            return [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
    except OSError:
        return [platform.processor()] * (psutil.cpu_count() or 1)


def mem_info() -> dict[str, Any]:
    memory = psutil.virtual_memory()._asdict()
    memory["swap"] = psutil.swap_memory()._asdict()
    return memory


def disk_info() -> list[dict[str, Any]]:
    out = []
    for part in psutil.disk_partitions(all=False):
        entry: dict[str, Any] = {
            "device": part.device,
            "mountpoint": part.mountpoint,
            "fstype": part.fstype,
            "opts": part.opts,
        }
        # A mount that cannot be read (permissions, a stale network mount) has no usage.
        with contextlib.suppress(OSError):
            entry.update(psutil.disk_usage(part.mountpoint)._asdict())
        out.append(entry)
    return out


def nic_info() -> list[dict[str, Any]]:
    stats = psutil.net_if_stats()
    out = []
    for name, addrs in psutil.net_if_addrs().items():
        entry: dict[str, Any] = {"name": name, "addrs": [], "hardwareaddr": ""}
        for addr in addrs:
            if addr.family == psutil.AF_LINK:
                entry["hardwareaddr"] = addr.address
            elif addr.family in (socket.AF_INET, socket.AF_INET6):
                entry["addrs"].append({"addr": addr.address, "netmask": addr.netmask})
        if name in stats:
            entry |= {"isup": stats[name].isup, "mtu": stats[name].mtu}
        out.append(entry)
    return out


def os_info() -> dict[str, Any]:
    uname = platform.uname()
    boot = psutil.boot_time()
    return {
        "hostname": socket.gethostname(),
        "os": uname.system.lower(),
        "platform": platform.platform(),
        "kernelVersion": uname.release,
        "machine": uname.machine,
        "bootTime": int(boot),
        "uptime": int(time.time() - boot),
        "procs": len(psutil.pids()),
        "loadavg": list(os.getloadavg()),
    }


def process_stats(pid: int) -> dict[str, Any]:
    """``{cpu, rss, vms, swap}`` of a process and its children, as the original reported."""
    totals = {"cpu": 0.0, "rss": 0, "vms": 0, "swap": 0}
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return totals
    for proc in procs:
        try:
            with proc.oneshot():
                memory = proc.memory_full_info() if hasattr(proc, "memory_full_info") else None
                info = memory or proc.memory_info()
                totals["cpu"] += proc.cpu_percent(0.05)
                totals["rss"] += info.rss
                totals["vms"] += info.vms
                totals["swap"] += getattr(info, "swap", 0)
        except psutil.Error:
            continue
    return totals
