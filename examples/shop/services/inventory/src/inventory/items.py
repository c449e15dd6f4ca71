"""The example resource: items, stored in PostgreSQL, and the event announcing one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from . import SERVICE_NAME
from .events import EventPublisher, PublishError
from .models import Item
from .problems import problem_responses
from .schemas import ItemCreate, ItemPublished, ItemRead

logger = logging.getLogger(__name__)
# Every operation can meet a database outage (503) or a bug (500): both are Problems.
router = APIRouter(prefix="/items", tags=["items"], responses=problem_responses(500, 503))


async def database_slot(request: Request) -> AsyncIterator[None]:
    """Wait, in the event loop, until the pool can hand this request a connection.

    Waiting inside the pool's checkout instead holds a worker thread: more requests than the pool
    has connections (a burst, or clients that gave up) then took all of the thread pool's workers,
    the requests holding the connections found none left to finish on, and everything stalled
    until `pool_timeout` answered 503, while /readyz, which needs a worker too, timed out."""
    async with request.app.state.database_slots:
        yield


def get_session(
    request: Request, _slot: Annotated[None, Depends(database_slot, scope="function")]
) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


# scope="function": the session closes, and its connection returns to the pool, as soon as the
# endpoint returns, not after the response has been serialized and sent.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409))
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


@router.get("/{item_id}", responses=problem_responses(404))
def read_item(item_id: int, session: SessionDep) -> ItemRead:
    item = session.get(Item, item_id)
    if item is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="item not found")
    return ItemRead.model_validate(item)


def find_item(make_session: sessionmaker[Session], item_id: int) -> Item | None:
    with make_session() as session:
        return session.get(Item, item_id)


@router.post(
    "/{item_id}/publish",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **problem_responses(404),
        **problem_responses(
            503, description="The database or the broker is unavailable, or publishing is off"
        ),
    },
)
async def publish_item(item_id: int, request: Request) -> ItemPublished:
    """Announce an item to the ecosystem: event `<service>.item.published` on the exchange."""
    publisher: EventPublisher | None = request.app.state.publisher
    if publisher is None:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            # The chart mounts the Secret's AMQP_URL key as a file and sets AMQP_URL_FILE.
            detail="publishing is not configured: set AMQP_URL or AMQP_URL_FILE",
        )
    # The ORM session is synchronous: keep it off the event loop.
    item = await run_in_threadpool(find_item, request.app.state.sessionmaker, item_id)
    if item is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="item not found")
    routing_key = f"{SERVICE_NAME}.item.published"
    try:
        message_id = await publisher.publish(routing_key, {"item_id": item.id, "name": item.name})
    except PublishError as err:
        logger.warning("publishing failed", extra={"item_id": item.id, "error": str(err)})
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the message broker is unavailable, try again later",
        ) from err
    logger.info(
        "item published",
        extra={"item_id": item.id, "routing_key": routing_key, "message_id": message_id},
    )
    return ItemPublished(item_id=item.id, routing_key=routing_key, message_id=message_id)
