"""The dashboard's routes (see the package docstring); pages are Jinja2 templates in ``templates/``."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from weir import __version__
from weir.errors import AuthenticationError, PermissionDeniedError, ValidationError, WeirError
from weir.features import FeatureStore
from weir.monitoring.monitors import Monitors
from weir.monitoring.report import chart_svg
from weir.registry import Deployments, ModelRegistry
from weir.store import PredictionLog
from weir.training.rollouts import Rollouts
from weir.types import json_ready
from weir.ui import features as feature_pages
from weir.ui.audit_check import AuditCheck
from weir.ui.charts import drift_heatmap, estimated_bands, performance_charts
from weir.ui.evidence import evidence_rows
from weir.ui.lineage import lineage_graph
from weir.ui.timeline import alias_timeline
from weir.ui.traffic import traffic

if TYPE_CHECKING:  # the server passes its Auth in (the ui and api adapters do not import each other)
    from weir.api.auth import Auth

logger = logging.getLogger(__name__)
PUBLIC = "public"  # as weir.api.auth.PUBLIC: routes that need no token

HERE = Path(__file__).parent
TOKEN_COOKIE, CSRF_COOKIE = "weir_token", "weir_csrf"
ACTIONS = {"pause": "pause", "resume": "resume", "promote": "promote_now", "abort": "abort"}
Page = Callable[[Request], Awaitable[Response]]
RECENT_RUNS = 100  # a monitor page shows its newest runs


def create_ui(
    registry: ModelRegistry,
    deployments: Deployments,
    rollouts: Rollouts,
    monitors: Monitors,
    log: PredictionLog,
    auth: Auth,
    features: FeatureStore,
) -> Starlette:
    """The dashboard as an ASGI app, mounted at ``/ui`` by the server."""
    ui = _Dashboard(registry, deployments, rollouts, monitors, log, auth, features)
    page = ui.page
    routes = [
        Route("/", page("read", ui.overview)),
        Route("/models", page("read", ui.models)),
        Route("/models/{name}/{version:int}", page("read", ui.version)),
        Route("/models/{name}/{version:int}/data.json", page("read", ui.version_data)),
        Route("/features", page("read", ui.features_overview)),
        Route("/features/data.json", page("read", ui.features_data)),
        Route("/features/views/{name}", page("read", ui.feature_view)),
        Route("/features/services/{name}", page("read", ui.feature_service)),
        Route("/features/profiles/{fingerprint}.json", page("read", ui.profile_data)),
        Route("/rollouts/{rollout_id:int}", page("read", ui.rollout)),
        Route("/rollouts/{rollout_id:int}/data.json", page("read", ui.rollout_data)),
        Route("/monitors/{name}", page("read", ui.monitor)),
        Route("/monitors/{name}/data.json", page("read", ui.monitor_data)),
        Route("/monitors/{name}/runs/{run_id:int}.json", page("read", ui.monitor_run_data)),
        Route("/rollouts/{rollout_id:int}/{action}", page("deploy", ui.act), methods=["POST"]),
        Route("/login", page(PUBLIC, ui.login_form)),
        Route("/login", page(PUBLIC, ui.login), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes)


class _Dashboard:
    def __init__(
        self,
        registry: ModelRegistry,
        deployments: Deployments,
        rollouts: Rollouts,
        monitors: Monitors,
        log: PredictionLog,
        auth: Auth,
        features: FeatureStore,
    ) -> None:
        self.registry, self.deployments, self.rollouts, self.monitors = registry, deployments, rollouts, monitors
        self.log, self.auth, self.features = log, auth, features
        self.audit_check = AuditCheck(registry.audit)
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())
        self.templates.filters["chart_svg"] = lambda chart: Markup(chart_svg(chart, width=300, height=150))

    def page(self, scope: str, handler: Callable[[Request, str], Awaitable[Response]]) -> Callable[..., Any]:
        """A route that checks ``scope`` (from the header or the sign-in cookie) and renders errors as pages.

        A ``.json`` route lets weir's errors through: the server answers them in the API's one error shape
        (``weir.api.errors``), not as a page."""

        async def endpoint(request: Request) -> Response:
            request.state.csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
            try:
                user = self.auth.check(_with_cookie_token(request), scope) if scope != PUBLIC else ""
                response = await handler(request, user)
            except WeirError as exc:
                if request.url.path.endswith(".json"):
                    raise
                if isinstance(exc, AuthenticationError):
                    response = self.render(request, "error.html", status=401, message=exc.message, login=True)
                else:
                    response = self.render(request, "error.html", status=exc.status, message=exc.message)
            if CSRF_COOKIE not in request.cookies:
                response.set_cookie(CSRF_COOKIE, request.state.csrf, httponly=True, samesite="strict", path="/ui")
            return response

        endpoint.weir_scope = scope  # type: ignore[attr-defined]  # what the scope test reads
        return endpoint

    def render(self, request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(template).render(csrf=request.state.csrf, version=__version__, **context)
        return HTMLResponse(html, status_code=status)

    # --- pages ---------------------------------------------------------------------------------

    async def overview(self, request: Request, user: str) -> Response:
        def gather() -> dict[str, Any]:
            rows = []
            for d in self.deployments.list_deployments():
                rows.append({"deployment": d, "traffic": traffic(self.log, d.endpoint)})
            watched = []
            for spec in self.monitors.list_monitors():
                runs = self.monitors.runs(spec.name, limit=50, summary=False)  # status, alerted, ran_at
                streak = []  # the latest runs that found drift: an alert raised in them is still open
                for run in reversed(runs):
                    if run.status != "drift":
                        break
                    streak.append(run)
                open_alert = any(r.alerted for r in streak)
                watched.append({"spec": spec, "run": runs[-1] if runs else None, "open_alert": open_alert})
            return {"endpoints": rows, "rollouts": self.rollouts.list_rollouts(active=True), "monitors": watched}

        return self.render(request, "overview.html", user=user, **await run_in_threadpool(gather))

    async def models(self, request: Request, user: str) -> Response:
        found = await run_in_threadpool(self.registry.list_models)
        return self.render(request, "models.html", user=user, models=found)

    async def version(self, request: Request, user: str) -> Response:
        ref = f"{request.path_params['name']}/{request.path_params['version']}"

        def gather() -> dict[str, Any]:
            version = self.registry.get_version(ref)
            history = self.registry.alias_history(version.model)
            return {
                "v": version,
                "graph": lineage_graph(version.model, version.version, version.lineage),
                "validations": [evidence_rows(r) for r in self.registry.validations(ref)],
                "history": history,
                "timeline": alias_timeline(history),
                "audit": self._model_audit(version.model),
                "verified": self.audit_check.verified(force=_forced(request)),
            }

        return self.render(request, "version.html", user=user, **await run_in_threadpool(gather))

    async def version_data(self, request: Request, user: str) -> Response:
        """The data behind the version page's charts: lineage, validation records, alias history, audit."""
        ref = f"{request.path_params['name']}/{request.path_params['version']}"

        def gather() -> dict[str, Any]:
            version = self.registry.get_version(ref)
            return {
                "version": version.to_dict(),
                "validations": [r.to_dict() for r in self.registry.validations(ref)],
                "alias_history": [m.to_dict() for m in self.registry.alias_history(version.model)],
                "audit": [e.to_dict() for e in self._model_audit(version.model)],
                "audit_verification": _verification(self.audit_check.verified(force=_forced(request))),
            }

        return _json(await run_in_threadpool(gather))

    def _model_audit(self, model: str, limit: int = 200) -> list[Any]:
        """The newest audit entries about ``model``: itself, its versions and its aliases."""
        entries = self.registry.audit.entries(entity_prefix=f"model:{model}", limit=limit * 4)
        own = (f"model:{model}/", f"model:{model}@")
        mine = [e for e in entries if e.entity == f"model:{model}" or e.entity.startswith(own)]
        return list(reversed(mine[-limit:]))

    async def rollout(self, request: Request, user: str) -> Response:
        rollout_id = request.path_params["rollout_id"]
        rollout = await run_in_threadpool(self.rollouts.get, rollout_id)
        steps = await run_in_threadpool(self.rollouts.steps, rollout_id)
        return self.render(request, "rollout.html", user=user, r=rollout, steps=steps)

    async def rollout_data(self, request: Request, user: str) -> Response:
        """The rollout with every step and analysis: what the rollout page draws."""
        rollout_id = request.path_params["rollout_id"]
        rollout = await run_in_threadpool(self.rollouts.get, rollout_id)
        steps = await run_in_threadpool(self.rollouts.steps, rollout_id)
        return _json({**rollout.to_dict(), "steps": steps})

    async def monitor(self, request: Request, user: str) -> Response:
        name = request.path_params["name"]

        def gather() -> dict[str, Any]:
            # The newest runs only, the same ones in the heat-map, the charts and the table; the summaries
            # (the compared distributions) of the newest run that tested something, and of no other.
            points = self.monitors.series(name, last_runs=RECENT_RUNS)
            runs = self.monitors.runs(name, limit=RECENT_RUNS, summary=False)
            latest = self.monitors.get_run(name, runs[-1].run_id) if runs else None
            tested = next((r for r in reversed(runs) if r.status != "no data"), None)
            compared = None
            if tested is not None:
                same = latest is not None and latest.run_id == tested.run_id
                compared = latest if same else self.monitors.get_run(name, tested.run_id)
            if compared is not None and not compared.summary.get("distributions"):
                compared = None
            verdicts = {}
            if compared is not None:
                tests = points[(points["kind"] == "drift") & (points["at"] == compared.ran_at)]
                verdicts = {str(p["series"]): p for p in tests.to_dict(orient="records")}
            return {
                "spec": self.monitors.get(name),
                "runs": runs,
                "latest": latest,
                "recent": RECENT_RUNS,
                "heat": drift_heatmap(points),
                "performance": performance_charts(points),
                "compared": compared,
                "verdicts": verdicts,
                "bands": estimated_bands(points),
            }

        return self.render(request, "monitor.html", user=user, **await run_in_threadpool(gather))

    async def monitor_data(self, request: Request, user: str) -> Response:
        """The points behind the monitor page's charts."""
        points = await run_in_threadpool(
            lambda: self.monitors.series(request.path_params["name"], last_runs=RECENT_RUNS)
        )
        body = points.assign(at=points["at"].astype(str)).to_json(orient="records")
        return Response(body, media_type="application/json")

    async def monitor_run_data(self, request: Request, user: str) -> Response:
        """One run of a monitor with what it compared (the distributions behind the page's small multiples)."""
        name, run_id = request.path_params["name"], request.path_params["run_id"]
        run = await run_in_threadpool(self.monitors.get_run, name, run_id)
        return _json(run.to_dict())

    # --- features ------------------------------------------------------------------------------

    async def features_overview(self, request: Request, user: str) -> Response:
        found = await run_in_threadpool(feature_pages.overview, self.features)
        return self.render(request, "features.html", user=user, **found)

    async def features_data(self, request: Request, user: str) -> Response:
        """Views with their freshness and services with their newest training frame, as JSON."""
        found = await run_in_threadpool(feature_pages.overview, self.features)
        body = {
            "views": [{**v["def"].to_dict(), "freshness": v["fresh"]} for v in found["views"]],
            "services": [
                {
                    **s["def"].to_dict(),
                    "newest_frame": None
                    if s["frame"] is None
                    else {k: v for k, v in s["frame"].items() if k != "features"},
                }
                for s in found["services"]
            ],
        }
        return _json(body)

    async def feature_view(self, request: Request, user: str) -> Response:
        name = request.path_params["name"]

        def gather() -> dict[str, Any]:
            history = self.features.catalog.history("view", name)
            latest = history[-1]
            fields = list(latest.spec["fields"])
            return {
                "view": latest,
                "history": list(reversed(history)),
                "fresh": feature_pages.freshness(self.features, name, latest.spec.get("online", True), _now()),
                "profiles": feature_pages.view_profiles(self.features, name, fields),
            }

        return self.render(request, "feature_view.html", user=user, **await run_in_threadpool(gather))

    async def feature_service(self, request: Request, user: str) -> Response:
        name = request.path_params["name"]

        def gather() -> dict[str, Any]:
            history = self.features.catalog.history("service", name)
            frames = self.features.catalog.profiles(name, limit=50)
            charts = {}
            if frames:
                charts = {f: feature_pages.profile_chart(stats) for f, stats in frames[0]["features"].items()}
            return {"service": history[-1], "history": list(reversed(history)), "frames": frames, "charts": charts}

        return self.render(request, "feature_service.html", user=user, **await run_in_threadpool(gather))

    async def profile_data(self, request: Request, user: str) -> Response:
        """The reference profile of one training frame (every feature's statistics and histogram)."""
        return _json(await run_in_threadpool(self.features.catalog.profile, request.path_params["fingerprint"]))

    # --- actions -------------------------------------------------------------------------------

    async def act(self, request: Request, user: str) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        sent, expected = (form.get("csrf") or [""])[0], request.cookies.get(CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(sent, expected):
            raise PermissionDeniedError("The form's CSRF token is missing or wrong; reload the page and try again.")
        action, rollout_id = request.path_params["action"], request.path_params["rollout_id"]
        if action not in ACTIONS:
            raise ValidationError(f"Unknown action {action!r}; use {', '.join(ACTIONS)}.")
        reason = (form.get("reason") or ["from the dashboard"])[0][:2000]
        await run_in_threadpool(getattr(self.rollouts, ACTIONS[action]), rollout_id, reason=reason, actor=user)
        return RedirectResponse(f"/ui/rollouts/{rollout_id}", status_code=303)

    async def login_form(self, request: Request, user: str) -> Response:
        return self.render(request, "login.html")

    async def login(self, request: Request, user: str) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        found = self.auth.tokens().lookup(token) if token else None
        if found is None or not found.allows("read"):
            return self.render(
                request, "login.html", status=401, message="That token is unknown, expired or has no read scope."
            )
        response = RedirectResponse("/ui/", status_code=303)
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/ui")
        return response


def _json(body: Any) -> Response:
    return Response(orjson.dumps(json_ready(body)), media_type="application/json")


def _forced(request: Request) -> bool:
    """``?verify=1``: walk the audit chain now instead of reusing a recent walk."""
    return request.query_params.get("verify") == "1"


def _verification(found: Any) -> dict[str, Any]:
    return {**found.report.to_dict(), "verified_at": found.at.isoformat(), "cached": found.cached}


def _now() -> datetime:
    return datetime.now(UTC)


def _with_cookie_token(request: Request) -> dict[str, str]:
    headers = dict(request.headers)
    token = request.cookies.get(TOKEN_COOKIE)
    if "authorization" not in headers and token:
        headers["authorization"] = f"Bearer {token}"
    return headers
