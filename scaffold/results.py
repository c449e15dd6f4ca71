"""What commands return. Commands never print: scaffold.output turns these into text or JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scaffold.checks.findings import CheckRun
from scaffold.model import Ecosystem, Service, TemplateRef
from scaffold.prerequisites import ToolStatus

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
class MappedAnswer:
    their: str  # the variable of the template the service was made from
    question: str  # the kind's question (or "name") it answers


@dataclass(frozen=True)
class UnmappedAnswer:
    key: str
    value: str
    why: str  # why the kind has no place for it


@dataclass(frozen=True)
class AdoptResult:
    """`scaffold adopt`: an existing service brought under the templates."""

    root: Path
    service: Service
    made: Literal["copier", "cruft", "hand-written"]  # how the service says it was made
    made_from: str | None  # the template it names (copier's _src_path, cruft's template), if any
    base_version: str  # the template version its next update merges from
    mapped: tuple[MappedAnswer, ...]
    unmapped: tuple[UnmappedAnswer, ...]
    written: tuple[Change, ...]  # in the service (its answers file)
    wiring: tuple[Change, ...]
    notes: tuple[str, ...]
    dry_run: bool


DiffStatus = Literal["added", "modified", "deleted"]


@dataclass(frozen=True)
class FileDiff:
    path: str  # relative to the meta-project root
    status: DiffStatus  # added: the service's own file; deleted: the template has it, the service not


@dataclass(frozen=True)
class DiffResult:
    """`scaffold diff NAME`: the service's own changes against the template version it is on."""

    root: Path
    name: str
    path: str
    template: TemplateRef
    files: tuple[FileDiff, ...]
    diff: str  # unified diff, template -> service


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
class TemplateStatus:
    """A service's (or the meta-project's) template version and the newest one its source has."""

    name: str
    source: str
    version: str
    latest: str | None  # None when the source could not be read
    update_available: bool


@dataclass(frozen=True)
class ListResult:
    root: Path
    ecosystem: Ecosystem
    templates: tuple[TemplateStatus, ...] = ()  # the meta-project's and each service's template drift
    missing: tuple[str, ...] = ()  # services whose directory does not exist (not checked out, deleted)
    outdated_only: bool = False  # `--outdated`: the drift gate (exit code 8 when anything is behind)

    @property
    def behind(self) -> tuple[TemplateStatus, ...]:
        """Targets with a newer template version than the one they are on."""
        return tuple(t for t in self.templates if t.update_available)

    @property
    def unknown(self) -> tuple[TemplateStatus, ...]:
        """Targets whose template source could not be read, so their drift is not known."""
        return tuple(t for t in self.templates if t.latest is None)


@dataclass(frozen=True)
class DoctorResult:
    root: Path | None  # the meta-project whose environments were checked, if any
    tools: tuple[ToolStatus, ...]
    delivery: bool  # delivery tools and contexts were required

    @property
    def missing(self) -> tuple[ToolStatus, ...]:
        """Required and not found: `scaffold doctor` exits non-zero when there is any."""
        return tuple(f for f in self.tools if f.required and not f.found)


@dataclass(frozen=True)
class GraphResult:
    root: Path
    format: str  # mermaid | dot | svg
    text: str


@dataclass(frozen=True)
class StepReport:
    """One onboarding step as it was run: its text, and what running it found or made."""

    number: int
    title: str
    text: str  # the step as markdown, the diagram as an outline (for a terminal)
    tools: tuple[ToolStatus, ...] = ()  # step 1: this machine
    created: NewResult | None = None  # step 3: the service made


@dataclass(frozen=True)
class OnboardResult:
    root: Path
    notice: str | None  # said before the steps run: what step 3 creates without asking
    steps: tuple[StepReport, ...]  # the steps run by this command
    completed: tuple[int, ...]  # every step done so far (remembered between runs)
    next_step: int | None  # where `scaffold onboard` continues; None when all are done
    shown: bool  # the steps were already shown in a terminal as they ran


UpdateStatus = Literal["updated", "up-to-date", "conflicts", "failed"]


@dataclass(frozen=True)
class TargetUpdate:
    """What `scaffold update` did (or would do) to one service or to the meta-project."""

    name: str
    path: str  # relative to the meta-project root ("." for the meta-project)
    status: UpdateStatus
    from_version: str | None
    to_version: str | None
    changes: tuple[Change, ...] = ()  # paths relative to the meta-project root
    conflicts: tuple[str, ...] = ()  # files with conflict markers (or a .rej file), or file/directory conflicts
    set_aside: tuple[str, ...] = ()  # file/directory conflicts: where the template's side was put
    kept: tuple[str, ...] = ()  # deleted by the new template version but edited here: kept
    not_restored: tuple[str, ...] = ()  # deleted here and changed by the template: left deleted
    migrations: int = 0  # template migrations that ran
    reason: str | None = None  # why it failed
    diff: str | None = None  # with --dry-run: the unified diff that would be applied


@dataclass(frozen=True)
class UpdateResult:
    root: Path
    targets: tuple[TargetUpdate, ...]
    wiring: tuple[Change, ...]
    notes: tuple[str, ...]
    dry_run: bool
    exit_code: int  # 0 clean, 6 conflicts, 7 a target failed or was refused (docs/cli.md)
    conflicts_in_git: bool = True  # --conflict inline: conflicts are unmerged in the index (git refuses to commit)


ProposalOutcome = Literal["created", "updated", "unchanged", "left alone", "failed"]


@dataclass(frozen=True)
class Proposal:
    """One repository's template updates as a branch (and a pull request) of `scaffold propose-updates`."""

    repository: str  # the ecosystem's name for the meta-project, else the service's
    path: str  # its work tree relative to the meta-project root ("." for the meta-project)
    remote_url: str
    branch: str
    base: str  # the branch the pull request goes into
    targets: tuple[str, ...]  # the services (and the meta-project) whose changes it holds
    outcome: ProposalOutcome  # what happened to the branch
    commit: str | None = None  # what the branch points at
    pull_request: str | None = None  # its URL
    pull_request_action: Literal["opened", "updated"] | None = None
    reason: str | None = None  # why it failed or was left alone; why no pull request


@dataclass(frozen=True)
class ProposeResult:
    root: Path
    update: UpdateResult  # what `scaffold update --all` did in the work trees
    proposals: tuple[Proposal, ...]
    exit_code: int  # 0, or 7 when a target or a repository failed (conflicts are in the pull requests)


@dataclass(frozen=True)
class CheckResult:
    root: Path
    ok: bool  # no check found an error
    errors: int
    warnings: int
    not_run: int  # checks skipped because their validator is not installed
    runs: tuple[CheckRun, ...]
    cached: int = 0  # checks answered from the cache: nothing they read changed since they last ran


@dataclass(frozen=True)
class DeployResult:
    """A delivery that rolled out and passed its smoke tests (a failed one is a DeliveryError)."""

    environment: str
    namespace: str
    release: str
    revision: int  # the release's new revision
    previous: int | None  # the revision it replaced; None for a first install
    images: dict[str, str]  # service -> repository@digest delivered
    skipped: tuple[str, ...]  # kinds of custom resources left out: the cluster does not serve their API
    kubernetes: str  # the cluster's version
    delivered_images: Path | None = None  # where the complete images file was written (--delivered-images)


@dataclass(frozen=True)
class RollbackResult:
    environment: str
    namespace: str
    release: str
    current: int  # the revision that ran before
    target: int | None  # the revision returned to; None: nothing was done (see `reason`)
    revision: int | None  # the new revision that runs the target's release
    reason: str  # why nothing was done


@dataclass(frozen=True)
class RevisionStatus:
    number: int
    status: str
    chart: str
    description: str
    updated: str


@dataclass(frozen=True)
class DeploymentStatus:
    name: str
    ready: int
    desired: int


@dataclass(frozen=True)
class StatusResult:
    environment: str
    namespace: str
    release: str
    kubernetes: str
    revisions: tuple[RevisionStatus, ...]  # oldest first; empty: not installed
    rollback_target: int | None  # where `scaffold rollback ENV` would go
    images: dict[str, str]  # service -> the image reference its current values name
    deployments: tuple[DeploymentStatus, ...]
    skipped: tuple[str, ...]  # kinds of custom resources the cluster does not serve


@dataclass(frozen=True)
class ChangesResult:
    root: Path
    since: str  # the base commit
    services: tuple[str, ...]  # whose images must be built, by name
    reasons: dict[str, str]  # service -> why


ProgressState = Literal["started", "done", "failed"]


@dataclass(frozen=True)
class Progress:
    """One step of a long command for one service, as it happens (printed on standard error)."""

    service: str
    step: str  # "test image", "runtime image", "push", "dependencies", "tests"
    state: ProgressState
    seconds: float | None = None  # when done or failed
    detail: str = ""


ProgressSink = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """The progress sink of a caller that shows none."""


@dataclass(frozen=True)
class BuiltImage:
    target: str  # the Dockerfile target: "test" or "runtime"
    reference: str  # repository:tag
    image_id: str
    size: int  # bytes, as the engine reports the image
    seconds: float  # how long its build took
    digest: str | None = None  # what the registry stored, after --push (runtime image)


BuildStatus = Literal["built", "pushed", "failed"]


@dataclass(frozen=True)
class ServiceBuild:
    name: str
    status: BuildStatus
    images: tuple[BuiltImage, ...] = ()
    failed_step: str | None = None  # "test image", "runtime image" or "push"
    error: str | None = None
    log: tuple[str, ...] = ()  # the failed build's whole log


@dataclass(frozen=True)
class BuildResult:
    root: Path
    engine: str  # the engine's name and version, e.g. "Podman Engine 4.3.1"
    services: tuple[ServiceBuild, ...]
    pushed: bool
    images_file: Path | None  # written by --push when every image was pushed
    exit_code: int  # 0, or 9 when a service's build or push failed (docs/cli.md)


TestStatus = Literal["passed", "failed", "not built", "error"]


@dataclass(frozen=True)
class ServiceTestRun:
    """One service's test image run with its dependencies."""

    name: str
    status: TestStatus
    image: str
    exit_code: int | None = None  # the test container's, read from the engine
    seconds: float = 0.0
    dependencies: tuple[str, ...] = ()  # the compose services started for it
    output: tuple[str, ...] = ()  # the test container's output (shown when it failed)
    reason: str | None = None  # why it did not run to the end


@dataclass(frozen=True)
class RunTestsResult:
    root: Path
    engine: str
    strict: bool  # outdated-dependency and audit findings failed the run
    services: tuple[ServiceTestRun, ...]
    exit_code: int  # 0, or 10 when a service's tests failed or could not run (docs/cli.md)


Result = (
    InitResult
    | CheckResult
    | NewResult
    | RemoveResult
    | SyncResult
    | ListResult
    | DoctorResult
    | GraphResult
    | OnboardResult
    | UpdateResult
    | ProposeResult
    | DeployResult
    | RollbackResult
    | StatusResult
    | ChangesResult
    | AdoptResult
    | DiffResult
    | BuildResult
    | RunTestsResult
)
