"""``weir features …`` as a user runs it: the installed script in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.cli.test_cli import run
from tests.features.repo import write_repo


def test_apply_list_show_materialize_read_online_and_build_a_frame(tmp_path: Path) -> None:
    home, repo = tmp_path / "home", write_repo(tmp_path / "repo")
    applied = json.loads(run(home, "features", "apply", str(repo), "--json").stdout)
    assert [(a["name"], a["status"]) for a in applied] == [
        ("driver", "created"),
        ("driver_stats", "created"),
        ("driver_service", "created"),
    ]
    assert "unchanged" in run(home, "features", "apply", str(repo)).stdout
    listed = json.loads(run(home, "features", "list", "--kind", "service", "--json").stdout)
    assert [d["spec"]["features"] for d in listed] == [["driver_stats:conv_rate", "driver_stats:trips"]]

    stored = json.loads(
        run(home, "features", "materialize", "--start", "2026-01-01", "--end", "2026-11-05", "--json").stdout
    )
    assert stored == {"driver_stats": 2}  # drivers 1 and 2; driver 3's only row is older than --start
    shown = json.loads(run(home, "features", "show", "view", "driver_stats", "--json").stdout)
    assert shown["watermark"].startswith("2026-11-05T00:00:00")
    assert json.loads(run(home, "features", "materialize-incremental", "--end", "2026-11-06", "--json").stdout) == {
        "driver_stats": 0
    }
    online = json.loads(run(home, "features", "get-online", "driver_service", "driver_id=1").stdout)
    assert online == {
        "driver_id": {"value": 1, "status": "KEY"},
        "conv_rate": {"value": 0.2, "status": "PRESENT"},
        "trips": {"value": 20, "status": "PRESENT"},
    }

    entities = tmp_path / "entities.csv"
    pd.DataFrame({"driver_id": [1, 2, 9], "event_timestamp": ["2026-11-01T06:00", "2026-11-03", "2026-11-03"]}).to_csv(
        entities, index=False
    )
    out = tmp_path / "frame.parquet"
    summary = json.loads(
        run(home, "features", "training-frame", str(entities), "driver_service", "--out", str(out), "--json").stdout
    )
    assert summary["rows"] == 3 and summary["fingerprint"].startswith("sha256:")
    frame = pd.read_parquet(out)
    assert frame["conv_rate"].tolist()[:2] == [0.1, 0.5] and pd.isna(frame["conv_rate"].iloc[2])


def test_errors_name_the_culprit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, "features", "apply", str(tmp_path / "missing.py"), check=False)
    assert done.returncode != 0 and "does not exist" in done.stderr
    done = run(home, "features", "materialize", "--start", "yesterday-ish", "--end", "2026-01-01", check=False)
    assert done.returncode != 0 and "--start 'yesterday-ish' is not a date" in done.stderr
    done = run(home, "features", "get-online", "driver_service", "driver_id", check=False)
    assert done.returncode != 0 and "is not KEY=VALUE" in done.stderr
