"""Features: versioned definitions (entities, views, services), materialisation watermarks and the
reference profiles of training frames.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_definitions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feature_definitions"),
        sa.UniqueConstraint("kind", "name", "version", name="uq_feature_definitions_kind_name_version"),
    )
    op.create_table(
        "feature_watermarks",
        sa.Column("view", sa.String(128), nullable=False),
        sa.Column("watermark", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("view", name="pk_feature_watermarks"),
    )
    op.create_table(
        "feature_profiles",
        sa.Column("fingerprint", sa.String(80), nullable=False),
        sa.Column("service", sa.String(128), nullable=True),
        sa.Column("service_version", sa.Integer, nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_feature_profiles"),
    )


def downgrade() -> None:
    for table in ("feature_profiles", "feature_watermarks", "feature_definitions"):
        op.drop_table(table)
