"""What commands return. Commands never print: scaffold.output turns these into text or JSON."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scaffold.model import Ecosystem, Service

Action = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class Change:
    path: str
    action: Action


@dataclass(frozen=True)
class InitResult:
    root: Path
    ecosystem: Ecosystem
    files: tuple[str, ...]
    dry_run: bool


@dataclass(frozen=True)
class NewResult:
    root: Path
    service: Service
    files: tuple[str, ...]  # the service's files, relative to its directory
    wiring: tuple[Change, ...]
    dry_run: bool


@dataclass(frozen=True)
class RemoveResult:
    root: Path
    service: Service
    code_deleted: bool
    wiring: tuple[Change, ...]
    dry_run: bool


@dataclass(frozen=True)
class SyncResult:
    root: Path
    wiring: tuple[Change, ...]
    dry_run: bool


@dataclass(frozen=True)
class ListResult:
    root: Path
    ecosystem: Ecosystem


Result = InitResult | NewResult | RemoveResult | SyncResult | ListResult
