"""Registering from several processes at once never duplicates or skips a version number."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np

from weir.app import connect

PROCESSES = 4
PER_PROCESS = 25


def _register_many(args: tuple[str, str, int]) -> list[int]:
    database_url, home, seed = args
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(20, 3))
    ws = connect(home=home, database_url=database_url, user=f"writer-{seed}")
    numbers = []
    for i in range(PER_PROCESS):
        model = LinearRegression().fit(X, X @ rng.normal(size=3) + i)
        numbers.append(ws.models.register("contended", model, code_path=None, metrics={"i": i}).version)
    ws.close()
    return numbers


def test_four_processes_register_versions_1_to_100_exactly(database_url: str, tmp_path: Path) -> None:
    home = str(tmp_path / "ws")
    connect(home=home, database_url=database_url).close()  # the schema exists; writers still race
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        results = pool.map(_register_many, [(database_url, home, seed) for seed in range(PROCESSES)])
    numbers = sorted(n for chunk in results for n in chunk)
    assert numbers == list(range(1, PROCESSES * PER_PROCESS + 1))
    for chunk in results:
        assert chunk == sorted(chunk), "each writer sees its own versions increase"
    ws = connect(home=home, database_url=database_url)
    versions = ws.models.versions("contended")
    assert [v.version for v in versions] == list(range(1, 101))
    assert {v.created_by for v in versions} == {f"writer-{s}" for s in range(PROCESSES)}
    report = ws.models.audit.verify()
    assert report.ok, report.problems
    assert report.entries == 1 + PROCESSES * PER_PROCESS  # model.create once, then one per version
    ws.close()
