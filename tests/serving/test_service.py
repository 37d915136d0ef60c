"""The inference service in-process: routing, canary stickiness, shadows, hot swap, failed loads, logging."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from weir.app import Workspace
from weir.errors import DeploymentNotFoundError, NotFoundError, SignatureError
from weir.serving.prediction_logger import PredictionLogger
from weir.serving.routing import Splitter
from weir.serving.service import InferenceService
from weir.store import PredictionBuffer, PredictionLog


@pytest.fixture
def service(iris_ws: Workspace) -> Iterator[InferenceService]:
    log = PredictionLogger(PredictionBuffer(PredictionLog(iris_ws.settings.prediction_log), max_seconds=0.05))
    svc = InferenceService(iris_ws.models, iris_ws.deployments, iris_ws.tokens, predictions=log, poll_interval=0.05)
    yield svc.start()
    svc.close()


def columns(X: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: X[c].to_numpy() for c in X}


def wait_for(condition, timeout: float = 2.0) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.01)
    return time.monotonic() - start


def test_predicts_like_the_registered_model(service: InferenceService, iris_ws: Workspace, iris) -> None:  # type: ignore[no-untyped-def]
    X, _ = iris
    outcome = service.predict("iris", columns(X))
    expected = iris_ws.models.load("iris/1").predict(X)
    assert outcome.route == "primary" and outcome.served.number == 1
    assert outcome.served.runtime.name == "onnxruntime"
    np.testing.assert_array_equal(outcome.prediction.predictions, expected)
    matrix = service.predict("iris", X.to_numpy()).prediction.predictions  # positional columns
    np.testing.assert_array_equal(matrix, expected)
    with pytest.raises(SignatureError, match="missing column"):
        service.predict("iris", {"sepal_length": np.array([1.0])})
    with pytest.raises(DeploymentNotFoundError, match="endpoints: iris"):
        service.predict("nope", columns(X))
    with pytest.raises(NotFoundError, match="does not serve version 3"):
        service.predict("iris", columns(X), version=3)


def test_sticky_canary_split_within_two_percent(service: InferenceService, iris_ws: Workspace, iris) -> None:  # type: ignore[no-untyped-def]
    X, _ = iris
    iris_ws.deployments.set_canary("iris", "iris/2", 25)
    service.refresh()
    row = columns(X[:1])
    first = {k: service.predict("iris", row, route_key=f"user-{k}").route for k in range(10_000)}
    share = sum(r == "canary" for r in first.values()) / len(first)
    assert abs(share - 0.25) <= 0.02
    again = {k: service.predict("iris", row, route_key=f"user-{k}").route for k in range(0, 10_000, 7)}
    assert all(first[k] == route for k, route in again.items())  # the same key, the same version
    # growing the weight only adds keys to the canary
    iris_ws.deployments.set_canary("iris", "iris/2", 50)
    service.refresh()
    later = {k: service.predict("iris", row, route_key=f"user-{k}").route for k in range(2000)}
    assert all(later[k] == "canary" for k in range(2000) if first[k] == "canary")
    # without a key: random split at the weight
    unkeyed = [service.predict("iris", row).route for _ in range(4000)]
    assert abs(unkeyed.count("canary") / 4000 - 0.5) < 0.04


def test_splitter_is_stable_across_instances() -> None:
    a, b = Splitter("churn"), Splitter("churn")
    assert [a.bucket(f"k{i}") for i in range(100)] == [b.bucket(f"k{i}") for i in range(100)]
    assert [a.bucket(f"k{i}") for i in range(100)] != [Splitter("other").bucket(f"k{i}") for i in range(100)]


def test_failing_shadow_costs_the_caller_nothing(service: InferenceService, iris_ws: Workspace, iris) -> None:  # type: ignore[no-untyped-def]
    X, y = iris
    wider = X.assign(extra=1.0)  # a version whose signature needs a column callers do not send
    iris_ws.models.register("iris", LogisticRegression(max_iter=500).fit(wider, y), input_example=wider[:5])
    iris_ws.deployments.set_shadow("iris", "iris/4", 100)
    iris_ws.deployments.set_shadow("iris", "iris/2", 100)
    service.refresh()
    for i in range(50):
        outcome = service.predict("iris", columns(X[i : i + 1]), request_id=f"r{i}")
        assert outcome.route == "primary" and outcome.served.number == 1
    wait_for(lambda: service._shadow_pending == 0)
    errors = service.metrics.shadow_errors.labels("iris", "iris", "4")._value.get()
    assert errors == 50
    service.predictions.flush()  # type: ignore[union-attr]
    frame = service.predictions.log.read("iris")  # type: ignore[union-attr]
    by_route = frame.groupby("route")["request_id"].nunique().to_dict()
    assert by_route == {"primary": 50, "shadow": 50}  # both shadows are logged beside the primary
    shadow = frame[frame.route == "shadow"]
    healthy, failing = shadow[shadow.version == 2], shadow[shadow.version == 4]
    assert set(healthy.request_id) == set(failing.request_id) == {f"r{i}" for i in range(50)}
    assert healthy["output.error"].isna().all() and failing["output.error"].str.contains("extra").all()
    assert service.predictions.log.read("iris", failed=False).route.value_counts().to_dict() == {  # type: ignore[union-attr]
        "primary": 50,
        "shadow": 50,
    }


def test_hot_swap_follows_alias_moves_within_two_seconds(service: InferenceService, iris_ws: Workspace, iris) -> None:  # type: ignore[no-untyped-def]
    X, _ = iris
    row = columns(X[:1])
    iris_ws.models.set_alias("iris", "champion", 3)
    took = wait_for(lambda: service.predict("iris", row).served.number == 3)
    assert took < 2.0
    assert (("iris", 1) not in service._pool) and (("iris", 3) in service._pool)  # the old version is released


def test_version_that_fails_to_load_never_gets_traffic(service: InferenceService, iris_ws: Workspace, iris) -> None:  # type: ignore[no-untyped-def]
    X, _ = iris
    broken = iris_ws.models.get_version("iris/2").model_artifact["digest"]
    path = next(iris_ws.settings.artifact_root.rglob(broken))
    path.chmod(0o644)
    path.write_bytes(b"not a model")
    iris_ws.models.set_alias("iris", "champion", 2)
    wait_for(lambda: "iris" in service.errors)
    assert service.predict("iris", columns(X[:1])).served.number == 1  # still the old version
    assert "iris/2" in service.status()["errors"]["iris"]
    assert service.ready  # the endpoint still has routes


def test_concurrent_requests_see_no_failure_during_swaps(service: InferenceService, iris_ws: Workspace, iris) -> None:  # type: ignore[no-untyped-def]
    X, _ = iris
    row = columns(X[:3])
    failures: list[BaseException] = []
    seen: set[int] = set()
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                seen.add(service.predict("iris", row, route_key=str(time.perf_counter())).served.number)
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20):
        if i % 2:
            iris_ws.deployments.set_canary("iris", f"iris/{2 + i % 4 // 2}", 10 * (i % 5 + 1))
        else:
            iris_ws.models.set_alias("iris", "champion", 1 + i % 3)
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    assert seen == {1, 2, 3}


def test_predictions_are_logged_with_inputs_and_outputs(service: InferenceService, iris) -> None:  # type: ignore[no-untyped-def]
    X, _ = iris
    service.predict("iris", columns(X[:2]), request_id="req")
    service.feedback("iris", [("req:0", 0), ("req:1", 2)])
    service.predictions.flush()  # type: ignore[union-attr]
    frame = service.predictions.log.read("iris", with_labels=True)  # type: ignore[union-attr]
    assert list(frame.request_id) == ["req:0", "req:1"]
    assert list(frame["label"]) == [0, 2]
    assert frame["input.sepal_length"].tolist() == X.sepal_length[:2].tolist()
    assert {"output.prediction", "output.proba_0", "output.proba_2"} <= set(frame.columns)


def test_micro_batching_shares_model_calls(service: InferenceService, iris_ws: Workspace, iris) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    X, _ = iris
    iris_ws.deployments.deploy("iris", "iris@champion", options={"max_batch_size": 16, "max_batch_wait_ms": 20})
    service.refresh()

    async def burst() -> list:  # type: ignore[type-arg]
        return await asyncio.gather(*(service.predict_async("iris", X.to_numpy()[i : i + 1]) for i in range(40)))

    outcomes = asyncio.run(burst())
    expected = iris_ws.models.load("iris/1").predict(X[:40])
    assert [int(o.prediction.predictions[0]) for o in outcomes] == expected.tolist()
    batcher = service.endpoint("iris").batchers[1]
    assert batcher.batches_ == 3  # 16 + 16 + 8 rows


def test_failing_canary_beside_a_new_primary_is_not_reloaded_each_poll(
    service: InferenceService,
    iris_ws: Workspace,
    iris,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    import weir.serving.service as service_module

    loads: list[str] = []
    real = service_module.load_version

    def counting(registry, version, **kwargs):  # type: ignore[no-untyped-def]
        loads.append(version.ref)
        return real(registry, version, **kwargs)

    monkeypatch.setattr(service_module, "load_version", counting)
    digest = iris_ws.models.get_version("iris/2").model_artifact["digest"]
    path = next(iris_ws.settings.artifact_root.rglob(digest))
    path.chmod(0o644)
    path.write_bytes(b"broken")
    iris_ws.deployments.deploy("iris", "iris/3", canary="iris/2", canary_weight=50)
    wait_for(lambda: "iris" in service.errors)
    time.sleep(0.5)  # ten polls
    assert loads.count("iris/3") == 1 and loads.count("iris/2") == 1
    assert service.predict("iris", columns(iris[0][:1])).served.number == 1  # still the old routes


def test_empty_request_is_refused(service: InferenceService, iris) -> None:  # type: ignore[no-untyped-def]
    X, _ = iris
    with pytest.raises(SignatureError, match="no rows"):
        service.predict("iris", X.to_numpy()[:0])
    with pytest.raises(SignatureError, match="no rows"):
        service.predict("iris", {c: X[c].to_numpy()[:0] for c in X})


def test_mixed_requests_flushed_together_keep_every_row(
    service: InferenceService, iris_ws: Workspace, iris: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, _ = iris
    iris_ws.deployments.set_canary("iris", "iris/2", 50)
    service.refresh()
    sent: dict[str, int] = {}
    for i in range(60):
        rows = X.iloc[i : i + 1 + i % 3]  # one to three rows per request
        out = service.predict("iris", columns(rows), route_key=f"k{i}", request_id=f"q{i}")
        sent[f"q{i}"] = out.served.number
        time.sleep(0.0005)
    assert service.predictions is not None
    service.predictions.flush()
    frame = service.predictions.log.read("iris")
    assert len(frame) == sum(1 + i % 3 for i in range(60))
    single = frame[~frame.request_id.str.contains(":")]
    assert set(single.request_id) == {f"q{i}" for i in range(60) if i % 3 == 0}
    multi = frame[frame.request_id.str.contains(":")]
    assert set(multi.request_id) == {f"q{i}:{j}" for i in range(60) for j in range(1 + i % 3) if i % 3}
    by_request = frame.assign(request=frame.request_id.str.split(":").str[0]).groupby("request")
    assert by_request["version"].first().to_dict() == sent  # each request logged under the version that answered
    assert set(frame.route) == {"primary", "canary"}
    times = by_request["time"].first().sort_values()
    assert times.is_unique  # each request keeps its own time, even in one batch
    assert (frame["latency_ms"] > 0).all()
    first_rows = frame[frame.request_id.isin(["q1:0", "q1:1"])].sort_values("request_id")
    np.testing.assert_allclose(first_rows["input.sepal_length"], X["sepal_length"].iloc[1:3])
