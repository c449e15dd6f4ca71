"""Load the example data: `python -m inventory.fixtures [PATH]` (idempotent).

Rows whose name already exists are left as they are, so the loader can run on every deploy.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from .db import make_engine, make_sessionmaker
from .logs import configure_logging
from .models import Item
from .schemas import ItemCreate
from .settings import Settings

logger = logging.getLogger(__name__)

# src/<package>/fixtures.py -> <project>/fixtures/items.json, the same in a checkout and the image.
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "items.json"


def read_items(path: Path) -> list[ItemCreate]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [ItemCreate.model_validate(entry) for entry in data]


def load_items(session: Session, items: Sequence[ItemCreate]) -> int:
    """Insert the items that are missing (by name); return how many were inserted."""
    if not items:
        return 0
    statement = (
        insert(Item)
        .values([item.model_dump() for item in items])
        .on_conflict_do_nothing(index_elements=[Item.name])
        .returning(Item.id)
    )
    inserted = len(session.execute(statement).all())
    session.commit()
    return inserted


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    items = read_items(args.path)
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            inserted = load_items(session, items)
    finally:
        engine.dispose()
    logger.info(
        "fixtures loaded",
        extra={"path": str(args.path), "inserted": inserted, "total": len(items)},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
