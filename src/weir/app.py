"""Wiring: settings → store → registry (and, as they arrive, every other part).

``weir.connect()`` is the Python entry point:

>>> import tempfile
>>> ws = connect(home=tempfile.mkdtemp())
>>> ws.models.list_models()
[]
>>> ws.close()
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

from weir.config import Settings, load_settings
from weir.errors import ConfigError, ValidationError
from weir.events import EventBus
from weir.features import FeatureStore, OfflineStore, open_online_store
from weir.monitoring.monitors import Monitors
from weir.registry import Deployments, ModelRegistry, Tokens
from weir.store import ArtifactStore, Database
from weir.training.agent import Agent
from weir.training.rollouts import Rollouts
from weir.training.triggers import Triggers, TriggerSpec

logger = logging.getLogger(__name__)


class Workspace:
    """Everything weir holds for one metadata database and artifact store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events = EventBus()
        self.db = Database(settings.database_url, timeout=settings.db_timeout)
        self.db.migrate()
        self.artifacts = ArtifactStore(settings.artifact_root)
        self.artifacts.remove_stale_temporaries()
        self.models = ModelRegistry(
            self.db, self.artifacts, actor=settings.user, bus=self.events, audit_key=settings.audit_key
        )
        self.deployments = Deployments(self.models)
        self.tokens = Tokens(self.models)
        self._features: FeatureStore | None = None

    @property
    def monitors(self) -> Monitors:
        """Monitors over the prediction log; a training-frame reference comes from the feature store."""
        from weir.store import PredictionLog

        return Monitors(
            self.db,
            PredictionLog(self.settings.prediction_log),
            frame_reference=lambda fingerprint: self.features.reference_sample(fingerprint),
            bus=self.events,
            actor=self.settings.user,
        )

    @property
    def triggers(self) -> Triggers:
        """Retraining triggers; a firing runs the trigger's job (``weir train``'s path)."""
        from weir.store import PredictionLog

        return Triggers(self.db, PredictionLog(self.settings.prediction_log), self.models, self._run_trigger,
                        busy=self._trigger_busy, actor=self.settings.user)  # fmt: skip

    @property
    def rollouts(self) -> Rollouts:
        """Progressive rollouts over the deployments, judged from the prediction log."""
        from weir.store import PredictionLog

        return Rollouts(self.deployments, PredictionLog(self.settings.prediction_log))

    def agent(self, *, interval: float = 10.0) -> Agent:
        """The agent: due monitors, triggers and rollouts every ``interval`` seconds (``weir agent``)."""
        return Agent(self.db, self.monitors, self.triggers, self.rollouts, interval=interval)

    def _trigger_busy(self, spec: TriggerSpec) -> str | None:
        """A job that rolls its candidates out waits while a rollout on that endpoint is in progress."""
        from weir.training.jobs import load_jobs

        job = load_jobs(spec.job_file).get(spec.job)
        if job is None or job.rollout is None:
            return None
        active = self.rollouts.list_rollouts(job.rollout, active=True)
        return f"rollout {active[0].id} on {job.rollout} is in progress" if active else None

    def _run_trigger(self, spec: TriggerSpec) -> str:
        from weir.training.jobs import load_jobs, run_job

        jobs = load_jobs(spec.job_file)
        if spec.job not in jobs:
            raise ValidationError(f"{spec.job_file} has no job {spec.job!r}; it defines {', '.join(jobs)}.")
        return run_job(jobs[spec.job], self.features, self.models, self.rollouts).version.ref

    @property
    def features(self) -> FeatureStore:
        """The feature store (opened on first use: its online store may be a Redis server)."""
        if self._features is None:
            self._features = FeatureStore(
                self.db,
                root=self.settings.feature_root,
                online=open_online_store(self.settings.online_store),
                offline=OfflineStore(
                    memory_limit=self.settings.offline_memory_limit,
                    temp_directory=self.settings.feature_root / "tmp",
                    index_root=self.settings.feature_root / "index",
                ),
                actor=self.settings.user,
            )
        return self._features

    def asgi_app(self, auth: Any = None) -> Any:
        """The REST control plane alone (a FastAPI application); :meth:`server_app` adds inference.
        ``auth`` checks requests (by default the ``auth`` setting over the tokens)."""
        from weir.api import create_app

        return create_app(
            self.models,
            self.settings,
            deployments=self.deployments,
            tokens=self.tokens,
            features=self.features,
            rollouts=self.rollouts,
            auth=auth,
        )

    def server_app(
        self,
        *,
        threads: int = 1,
        metrics_dir: str | None = None,
        endpoints: list[str] | None = None,
        control_plane: bool = True,
    ) -> Any:
        """The whole server: inference (V2, MLflow, JSON) in front of the control plane, following the
        registry's deployments. The service starts (loading every deployment) before this returns.

        ``endpoints`` limits inference to those endpoints, and ``control_plane=False`` leaves out the REST
        control plane and the dashboard: what one replica of an elastic engine serves."""
        from weir.api.auth import Auth
        from weir.api.inference import create_server_app
        from weir.serving.metrics import ServingMetrics
        from weir.serving.prediction_logger import PredictionLogger
        from weir.serving.service import InferenceService
        from weir.store import PredictionBuffer, PredictionLog

        predictions = PredictionLogger(PredictionBuffer(PredictionLog(self.settings.prediction_log)))
        service = InferenceService(
            self.models,
            self.deployments,
            self.tokens,
            predictions=predictions,
            metrics=ServingMetrics(metrics_dir),
            threads=threads,
            endpoints=endpoints,
        ).start()
        auth = Auth(self.settings.auth, lambda: service.token_table, self.settings.user)
        control = ui = None
        if control_plane:
            control = self.asgi_app(auth)
            from weir.ui import create_ui

            ui = create_ui(
                self.models,
                self.deployments,
                self.rollouts,
                self.monitors,
                PredictionLog(self.settings.prediction_log),
                auth,
                self.features,
            )
        return create_server_app(
            service,
            control,
            auth=auth,
            max_body=self.settings.max_body_bytes,
            features=self.features,
            ui=ui,
            on_shutdown=service.close,
        )

    def serve(
        self,
        *,
        workers: int = 1,
        allow_unauthenticated: bool = False,
        engine: str = "embedded",
        address: str | None = None,
    ) -> None:
        """Run the server on ``settings.host:port`` until interrupted (``weir serve``): in this process
        (``engine="embedded"``), or as one Ray Serve application per endpoint on the Ray cluster at
        ``address`` (``engine="ray"``; a local one is started without an address)."""
        if engine == "ray":
            from weir.ray_engine import RayEngine

            RayEngine(self, address=address).run(allow_unauthenticated=allow_unauthenticated)
            return
        if engine != "embedded":
            raise ConfigError(f"Unknown engine {engine!r}: use 'embedded' (the default) or 'ray'.")
        from weir.server import run

        run(self, workers=workers, allow_unauthenticated=allow_unauthenticated)

    def close(self) -> None:
        if self._features is not None:
            self._features.close()
        self.db.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Workspace {self.db.redacted_url} artifacts={self.settings.artifact_root}>"


def connect(home: str | Path | None = None, *, settings: Settings | None = None, **overrides: Any) -> Workspace:
    """Open (creating and migrating if needed) the workspace described by the settings.

    ``home`` and keyword ``overrides`` (``database_url``, ``artifact_root``, ``user``, …) take
    precedence over ``weir.toml`` and ``WEIR_*`` variables.
    """
    if settings is None:
        if home is not None:
            overrides["home"] = Path(home)
        settings = load_settings(overrides)
    return Workspace(settings)


def worker_app() -> Any:
    """One server worker's application: uvicorn calls this in each worker process of ``weir serve
    --workers N``, whose parent exported its settings as ``WEIR_*`` variables."""
    from weir.server import metrics_folder, pin_threads

    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    pin_threads()
    return Workspace(settings).server_app(metrics_dir=str(metrics_folder(settings)))


def endpoint_app(endpoint: str) -> Any:
    """One endpoint's inference application, built inside each Ray Serve replica from the ``WEIR_*``
    settings of its runtime environment (the engine gets this function from :func:`ray_application`, so
    that it needs no import of this module)."""
    from weir.server import pin_threads

    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    pin_threads()
    return Workspace(settings).server_app(endpoints=[endpoint], control_plane=False)


def ray_application(args: dict[str, str]) -> Any:
    """The Ray Serve application builder of one endpoint (``import_path: weir.app:ray_application``,
    ``args: {endpoint: churn}``), for ``weir serve --engine ray`` and KubeRay's RayService alike:
    settings from the ``WEIR_*`` environment, scaling from the deployment's options."""
    from weir.ray_engine import application

    if not isinstance(args, dict) or not isinstance(args.get("endpoint"), str):
        raise ConfigError(f"weir.app:ray_application needs args {{endpoint: NAME}}, not {args!r}.")
    with Workspace(load_settings()) as ws:
        deployment = ws.deployments.get(args["endpoint"])
    return application(endpoint_app, deployment)


def main(argv: list[str] | None = None) -> None:
    """The ``weir`` console script: the CLI, wired to this module's :func:`connect`."""
    from weir.cli.main import run

    run(connect, argv)
