"""The systemd units in contrib/ are valid (where systemd-analyze exists)."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

UNITS = pathlib.Path(__file__).resolve().parents[2] / "contrib" / "systemd"


@pytest.mark.parametrize("unit", ["watchkeeper.service", "watchkeeper-agent.service"])
def test_unit_verifies(tmp_path, unit):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = (UNITS / unit).read_text()
    assert "/opt/watchkeeper/bin/watchkeeper " in text
    # verify checks that ExecStart's program exists: point it at this installation's.
    command = pathlib.Path(sys.executable).parent / "watchkeeper"
    (tmp_path / unit).write_text(text.replace("/opt/watchkeeper/bin/watchkeeper", str(command)))
    result = subprocess.run(
        [analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in result.stderr.splitlines() if unit in line]
    assert result.returncode == 0 and not problems, result.stderr
