"""The example resource: items, stored in PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import Item
from .schemas import ItemCreate, ItemRead

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/items", tags=["items"])


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@router.post("", status_code=status.HTTP_201_CREATED, responses={409: {}})
def create_item(payload: ItemCreate, session: SessionDep) -> ItemRead:
    item = Item(name=payload.name, description=payload.description)
    session.add(item)
    try:
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise HTTPException(
            status_code=status.HTTP_409_CONFLICT, detail="an item with this name already exists"
        ) from err
    logger.info("item created", extra={"item_id": item.id})
    return ItemRead.model_validate(item)


@router.get("")
def list_items(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ItemRead]:
    items = session.scalars(select(Item).order_by(Item.id).limit(limit).offset(offset))
    return [ItemRead.model_validate(item) for item in items]


@router.get("/{item_id}", responses={404: {}})
def read_item(item_id: int, session: SessionDep) -> ItemRead:
    item = session.get(Item, item_id)
    if item is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="item not found")
    return ItemRead.model_validate(item)
