"""Reading GitHub Actions workflows as data: the expressions of `if:` and friends, and which jobs and
steps run for an event.

The evaluator covers the expression language the generated workflows use, with GitHub's documented
semantics (docs.github.com, "Evaluate expressions in workflows and actions"): literals, property
paths into the contexts, `!`, `==`, `!=`, `&&` and `||` (which return one of their operands),
parentheses, string comparison ignoring case, `contains`, `fromJSON`, `toJSON`, and the status
functions. A job or step `if:` without a status function gets GitHub's implicit `success() &&`.
`simulate` walks a workflow's jobs in the order of their `needs`: a job runs when its `if:` holds,
and then ends as the test says it would (success unless told otherwise); otherwise it is skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||[!(),])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_*][A-Za-z0-9_-]*)*))"
)
STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")


def tokens(expression: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    text = expression.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"cannot read {text[position:]!r} in {expression!r}")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and value != 0.0


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    return bool(left == right)


@dataclass
class Context:
    """The contexts an expression reads, and the status of what ran before it."""

    values: dict[str, Any]
    status: str = "success"  # success | failure | cancelled: of the needs (job) or earlier steps (step)

    def lookup(self, path: str) -> Any:
        value: Any = self.values
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value


class _Parser:
    def __init__(self, expression: str, context: Context) -> None:
        self.items = tokens(expression)
        self.index = 0
        self.context = context
        self.expression = expression

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        item = self.peek()
        if item is None or (value is not None and item[1] != value):
            raise ValueError(f"expected {value or 'more'} in {self.expression!r}")
        self.index += 1
        return item

    def parse(self) -> Any:
        value = self.either()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()} in {self.expression!r}")
        return value

    def either(self) -> Any:
        value = self.both()
        while self.peek() == ("op", "||"):
            self.take()
            other = self.both()
            value = value if truthy(value) else other
        return value

    def both(self) -> Any:
        value = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            other = self.comparison()
            value = other if truthy(value) else value
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in (("op", "=="), ("op", "!=")):
            operator = self.take()[1]
            other = self.unary()
            value = _equal(value, other) if operator == "==" else not _equal(value, other)
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text) if "." in text else int(text)
        if (kind, text) == ("op", "("):
            value = self.either()
            self.take(")")
            return value
        if kind != "name":
            raise ValueError(f"unexpected {text!r} in {self.expression!r}")
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self.peek() == ("op", "("):
            self.take()
            args: list[Any] = []
            while self.peek() != ("op", ")"):
                args.append(self.either())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            return self.call(text, args)
        return self.context.lookup(text)

    def call(self, name: str, args: list[Any]) -> Any:
        status = self.context.status
        if name == "always":
            return True
        if name == "success":
            return status == "success"
        if name == "failure":
            return status == "failure"
        if name == "cancelled":
            return status == "cancelled"
        if name == "contains":
            search, item = args
            if isinstance(search, list):
                return any(_equal(element, item) for element in search)
            return isinstance(search, str) and isinstance(item, str) and item.lower() in search.lower()
        if name == "fromJSON":
            return json.loads(args[0])
        if name == "toJSON":
            return json.dumps(args[0])
        raise ValueError(f"function {name} is not simulated")


def evaluate(expression: str, context: Context) -> Any:
    """An expression, bare or as `${{ ... }}`."""
    inner = expression.strip()
    if inner.startswith("${{") and inner.endswith("}}"):
        inner = inner[3:-2]
    return _Parser(inner, context).parse()


def interpolate(text: str, context: Context) -> str:
    """A string with `${{ ... }}` templates, as GitHub renders `name:`, `environment:`, `group:`."""
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(evaluate(m.group(1), context) or ""), text)


def condition_holds(condition: str | bool | None, context: Context) -> bool:
    """`if:` with GitHub's implicit `success() &&` unless a status function is used."""
    if condition is None:
        return context.status == "success"
    text = str(condition)
    implicit = not any(re.search(rf"\b{name}\s*\(", text) for name in STATUS_FUNCTIONS)
    if implicit and context.status != "success":
        return False
    return truthy(evaluate(text, context))


@dataclass
class Run:
    """What one run of a workflow did: each job's result and the contexts its expressions saw."""

    results: dict[str, str] = field(default_factory=dict)  # job -> success | failure | skipped
    order: list[str] = field(default_factory=list)  # jobs in the order they could start


def needs_of(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def simulate(
    workflow: Mapping[str, Any],
    contexts: dict[str, Any],
    outcomes: Mapping[str, str] | None = None,
    outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> Run:
    """Which jobs run for the event in `contexts` (github, inputs, ...) and how they end; `outcomes`
    says how a job that runs ends (default success), `outputs` what it outputs."""
    jobs: Mapping[str, Any] = workflow["jobs"]
    run = Run()
    pending = list(jobs)
    while pending:
        ready = [name for name in pending if all(n in run.results for n in needs_of(jobs[name]))]
        if not ready:
            raise ValueError(f"needs form a cycle or name missing jobs: {pending}")
        for name in ready:
            job = jobs[name]
            needs = {n: {"result": run.results[n], "outputs": dict((outputs or {}).get(n, {}))} for n in needs_of(job)}
            results = [n["result"] for n in needs.values()]
            status = (
                "failure" if "failure" in results else "success" if all(r == "success" for r in results) else "skipped"
            )
            context = Context({**contexts, "needs": needs}, status="success" if status == "success" else status)
            if status == "skipped" and "if" not in job:
                run.results[name] = "skipped"
            elif condition_holds(job.get("if"), context):
                run.results[name] = (outcomes or {}).get(name, "success")
            else:
                run.results[name] = "skipped"
            run.order.append(name)
            pending.remove(name)
    return run


def job_context(contexts: dict[str, Any], needs: Mapping[str, str] | None = None) -> Context:
    return Context({**contexts, "needs": {n: {"result": r} for n, r in (needs or {}).items()}})


def steps_that_run(job: Mapping[str, Any], contexts: dict[str, Any], failing: set[int] | None = None) -> list[int]:
    """Indexes of the steps of `job` that run, when the steps in `failing` fail."""
    ran: list[int] = []
    status = "success"
    for index, step in enumerate(job["steps"]):
        if condition_holds(step.get("if"), Context(dict(contexts), status=status)):
            ran.append(index)
            if index in (failing or set()) and not step.get("continue-on-error"):
                status = "failure"
    return ran
