"""The one error hierarchy of weir.

Everything raised across a part's boundary derives from :class:`WeirError`. Each error carries
an HTTP ``status`` and a stable machine-readable ``code``; its message names the culprit and the
fix. Where callers may reasonably catch a built-in exception, the error subclasses it too
(``ValidationError`` is also a ``ValueError``, ``NotFoundError`` also a ``LookupError``).

>>> err = ModelNotFoundError("Model 'churn' does not exist; registered models: iris.")
>>> err.status, err.code, isinstance(err, LookupError)
(404, 'model_not_found', True)
"""

from __future__ import annotations

from typing import Any, ClassVar


class WeirError(Exception):
    """Base of every error weir raises across a boundary."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "weir_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            body["details"] = self.details
        return body


# --- 400-class: the caller can fix it ---------------------------------------------------------


class ValidationError(WeirError, ValueError):
    """An argument or input is malformed."""

    status = 400
    code = "invalid_input"


class ConfigError(ValidationError):
    """A setting has a bad value; the message names the key."""

    code = "invalid_setting"


class SignatureError(ValidationError):
    """Input does not match a model version's signature; the message names the field."""

    status = 422
    code = "signature_mismatch"


class UnsupportedModelError(ValidationError):
    """No model format can store this object without pickle."""

    code = "unsupported_model"


class UnsupportedOperationError(WeirError):
    """The model cannot do what was asked (for example ``predict_proba`` on a regressor)."""

    status = 400
    code = "unsupported_operation"


class UntrustedArtifactError(WeirError):
    """Loading would run untrusted code (pickle) or accept types that were never trusted."""

    status = 403
    code = "untrusted_artifact"


class NotFittedError(WeirError, RuntimeError):
    """A component was used before ``fit`` (or ``load``) gave it the state it needs."""

    status = 409
    code = "not_fitted"


class NotFoundError(WeirError, LookupError):
    status = 404
    code = "not_found"


class ModelNotFoundError(NotFoundError):
    code = "model_not_found"


class VersionNotFoundError(NotFoundError):
    code = "version_not_found"


class AliasNotFoundError(NotFoundError):
    code = "alias_not_found"


class ArtifactNotFoundError(NotFoundError):
    code = "artifact_not_found"


class DeploymentNotFoundError(NotFoundError):
    code = "deployment_not_found"


class FeatureNotFoundError(NotFoundError):
    """An entity, feature view, feature service or feature that is not registered."""

    code = "feature_not_found"


class MethodNotAllowedError(WeirError):
    """The path exists, but not with this HTTP method."""

    status = 405
    code = "method_not_allowed"


class AuthenticationError(WeirError):
    """No credentials, or credentials that are unknown, revoked or expired."""

    status = 401
    code = "unauthenticated"


class PermissionDeniedError(WeirError):
    """The credentials are valid but lack the scope the action needs."""

    status = 403
    code = "forbidden"


class PayloadTooLargeError(WeirError):
    """A request body beyond the configured limit."""

    status = 413
    code = "payload_too_large"


class ServiceUnavailableError(WeirError):
    """The server is up but cannot answer this yet (for example no version of an endpoint is ready)."""

    status = 503
    code = "unavailable"


class ConflictError(WeirError):
    """The request conflicts with the current state (for example a name already taken)."""

    status = 409
    code = "conflict"


class BreakingChangeError(ConflictError):
    """A feature definition change that would break its consumers; the message names them."""

    code = "breaking_change"


class SourceError(ValidationError):
    """A feature source that is missing, unreadable or whose schema disagrees with its view."""

    code = "invalid_source"


# --- 500-class: the system is not in a state to answer --------------------------------------


class IntegrityError(WeirError):
    """Stored bytes or records no longer match their recorded digest or hash chain."""

    status = 500
    code = "integrity_error"


class ModelLoadError(WeirError):
    """A stored model could not be deserialised by its format."""

    status = 500
    code = "model_load_error"


class StoreUnavailableError(WeirError):
    """The metadata database or artifact store cannot be reached."""

    status = 503
    code = "store_unavailable"
