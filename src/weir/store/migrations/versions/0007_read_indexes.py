"""Indexes for the dashboard's reads: a service's newest training-frame profiles, a monitor's newest runs' points.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_feature_profiles_service", "feature_profiles", ["service", "created_at"])
    op.create_index("ix_monitor_points_run", "monitor_points", ["monitor", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_monitor_points_run", table_name="monitor_points")
    op.drop_index("ix_feature_profiles_service", table_name="feature_profiles")
