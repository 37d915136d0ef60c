"""Model registry (layer 2): immutable versions, aliases, lineage, validation records, audit log."""

from __future__ import annotations

from weir.registry.audit import AuditEntry, AuditLog, AuditReport
from weir.registry.deployments import Deployments
from weir.registry.models import ModelRegistry
from weir.registry.records import AliasMove, Deployment, DeploymentChange, Model, ModelVersion, Shadow, ValidationRecord
from weir.registry.refs import ModelRef, parse_ref
from weir.registry.scaling import Scaling
from weir.registry.signature import Schema, Signature, infer_signature
from weir.registry.tokens import SCOPES, Token, Tokens

__all__ = [
    "SCOPES",
    "AliasMove",
    "AuditEntry",
    "AuditLog",
    "AuditReport",
    "Deployment",
    "DeploymentChange",
    "Deployments",
    "Model",
    "ModelRef",
    "ModelRegistry",
    "ModelVersion",
    "Scaling",
    "Schema",
    "Shadow",
    "Signature",
    "Token",
    "Tokens",
    "ValidationRecord",
    "infer_signature",
    "parse_ref",
]
