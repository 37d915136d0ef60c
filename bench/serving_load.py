"""Load and measurement helpers for ``bench/serving.py``: wrk runs, their parsing, server CPU from /proc."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

LUA = """-- POST the body read from a file, JSON content type (written by bench/serving.py)
local f = assert(io.open("{body}", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class Cell:
    """One wrk run against one server: throughput, latency, errors and the server's CPU per request."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int
    socket_errors: int
    cpu_ms_per_request: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: run `bash bench/serving_setup.sh` (apt-get install -y wrk).")
    return found


def wrk_version() -> str:
    out = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split(" [")[0] if first else "wrk"


def write_script(folder: Path, name: str, body: bytes) -> Path:
    """Write the body and the Lua script that posts it; return the script's path."""
    body_path = folder / f"{name}.json"
    body_path.write_bytes(body)
    script = folder / f"{name}.lua"
    script.write_text(LUA.format(body=body_path))
    return script


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"cannot read the latency {text!r} from wrk's output")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    """Requests, seconds, req/s, p50 and p99 in ms, non-2xx responses and socket errors from ``wrk --latency``."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done is None or rps is None:
        raise ValueError(f"wrk's output has no totals:\n{out}")
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(done.group(1))
    return {
        "requests": requests,
        "seconds": _ms(done.group(2) + done.group(3)) / 1e3,
        "rps": float(rps.group(1)),
        "p50_ms": _ms(p50.group(1)) if p50 else float("nan"),
        "p99_ms": _ms(p99.group(1)) if p99 else float("nan"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(g) for g in sockets.groups()) if sockets else 0,
    }


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and all its descendants alive now, in seconds."""
    tree = _children()
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(tree.get(current, []))
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def run_wrk(url: str, script: Path, concurrency: int, seconds: float, server_pid: int | None) -> Cell:
    """Run wrk against ``url`` and sample the server tree's CPU around it."""
    threads = min(2, concurrency)
    command = [
        wrk_path(), f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
        "--timeout", "10s", "--latency", "-s", str(script), url,
    ]  # fmt: skip
    cpu0 = tree_cpu_seconds(server_pid) if server_pid else None
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu1 = tree_cpu_seconds(server_pid) if server_pid else None
    parsed = parse_wrk(out)
    cpu = None
    if cpu0 is not None and cpu1 is not None and parsed["requests"]:
        cpu = (cpu1 - cpu0) * 1e3 / parsed["requests"]
    return Cell(
        errors=parsed["non_2xx"] + parsed["socket_errors"],
        cpu_ms_per_request=cpu,
        **parsed,
    )
