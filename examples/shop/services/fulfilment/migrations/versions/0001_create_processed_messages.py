"""Create the idempotency record and the example handler's table.

Revision ID: 0001
Revises:
Create Date: 2026-01-01 00:00:00

Additive only: the previous two releases must keep working on the schema this produces.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processed_messages",
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("routing_key", sa.String(length=255), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_processed_messages")),
    )
    op.create_index(
        op.f("ix_processed_messages_processed_at"),
        "processed_messages",
        ["processed_at"],
        unique=False,
    )
    op.create_table(
        "published_items",
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("item_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("times_published", sa.Integer(), nullable=False),
        sa.Column("last_message_id", sa.String(length=255), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("source", "item_id", name=op.f("pk_published_items")),
    )


def downgrade() -> None:
    op.drop_table("published_items")
    op.drop_index(op.f("ix_processed_messages_processed_at"), table_name="processed_messages")
    op.drop_table("processed_messages")
