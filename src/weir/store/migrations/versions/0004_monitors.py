"""Monitors: their definitions, every run, and the measured points (a time series per column and metric).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_monitors"),
    )
    op.create_table(
        "monitor_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("monitor", sa.String(128), nullable=False),
        sa.Column("ran_at", sa.DateTime, nullable=False),
        sa.Column("window_start", sa.DateTime, nullable=True),
        sa.Column("window_end", sa.DateTime, nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("alerted", sa.Boolean, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_runs"),
    )
    op.create_index("ix_monitor_runs_lookup", "monitor_runs", ["monitor", "id"])
    op.create_table(
        "monitor_points",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("monitor", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("series", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("p_value", sa.Float, nullable=True),
        sa.Column("threshold", sa.Float, nullable=True),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_points"),
        sa.ForeignKeyConstraint(["run_id"], ["monitor_runs.id"], name="fk_monitor_points_run_id_monitor_runs"),
    )
    op.create_index("ix_monitor_points_series", "monitor_points", ["monitor", "series", "at"])


def downgrade() -> None:
    for table in ("monitor_points", "monitor_runs", "monitors"):
        op.drop_table(table)
