"""`weir monitor report` on two CSV files, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

WEIR = str(Path(sys.executable).with_name("weir"))


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
    env["COLUMNS"] = "200"
    return subprocess.run([WEIR, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def _frames(seed: int = 0, n: int = 3000) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 0.5, n),
            "plan": rng.choice(["a", "b", "c"], n),
        }
    )
    cur = pd.DataFrame(
        {
            "age": rng.normal(46, 10, n),
            "income": rng.lognormal(10, 0.5, n),
            "plan": rng.choice(["a", "b", "c"], n, p=[0.2, 0.3, 0.5]),
        }
    )
    return ref, cur


def test_report_finds_the_shifted_columns_and_writes_html_and_json(tmp_path: Path) -> None:
    ref, cur = _frames()
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    done = _run(
        tmp_path, "monitor", "report", "ref.csv", "cur.csv", "--out", "r.html", "--json", "r.json", "--fail-on-drift"
    )
    assert done.returncode == 3, done.stderr
    assert "dataset drift: 2 of 3 tested columns drifted" in done.stdout
    body = json.loads((tmp_path / "r.json").read_text())
    verdicts = {c["column"]: c["verdict"] for c in body["columns"]}
    assert verdicts == {"age": "drift", "income": "no drift", "plan": "drift"}
    html = (tmp_path / "r.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "weir-report-data" in html


def test_no_drift_exits_0_even_with_fail_on_drift(tmp_path: Path) -> None:
    ref, _ = _frames(1)
    same, _ = _frames(2)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    same.to_csv(tmp_path / "cur.csv", index=False)
    done = _run(tmp_path, "monitor", "report", "ref.csv", "cur.csv", "--fail-on-drift")
    assert done.returncode == 0, done.stderr
    assert "no dataset drift: 0 of 3" in done.stdout
    assert (tmp_path / "drift-report.html").is_file()


def test_missing_file_and_missing_column_are_clear_errors(tmp_path: Path) -> None:
    ref, cur = _frames()
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.drop(columns=["plan"]).to_csv(tmp_path / "cur.csv", index=False)
    missing = _run(tmp_path, "monitor", "report", "ref.csv", "nope.csv")
    assert missing.returncode == 1 and "nope.csv does not exist" in missing.stderr
    lacking = _run(tmp_path, "monitor", "report", "ref.csv", "cur.csv")
    assert lacking.returncode == 1 and "plan" in lacking.stderr
