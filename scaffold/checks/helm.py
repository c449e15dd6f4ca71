"""Helm charts through helm-python-sdk (Helm's Go SDK over ctypes; it releases the GIL while it works).

`lint` is `helm lint --strict` (warnings count as errors, values checked against
values.schema.json); `render` is `helm template`, each manifest parsed so broken YAML is caught.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from scaffold.checks.findings import Finding

KUBE_VERSION: Final = "v1.30.0"
# "orders/templates/service.yaml:6:19\n  executing ..." -> the file inside the chart, line, column
_LOCATION = re.compile(r"^(?P<chart>[^\s/:]+)/(?P<file>[^\s:]+):(?P<line>\d+)(?::(?P<column>\d+))?:?\s*")


@dataclass(frozen=True)
class Rendered:
    template: str  # as Helm names it: "<chart>/templates/x.yaml" or "<chart>/charts/<sub>/templates/x.yaml"
    doc: dict[str, Any]


class RenderError(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


@contextmanager
def native_logs_quiet() -> Iterator[None]:
    """Helm's Go code logs to file descriptor 2 on its own (e.g. "found symbolic link in path" for each
    of the umbrella's linked charts); that is noise around a report, so it goes to a scratch file meanwhile.
    Helm's errors come back as values, not through that log."""
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def locate(text: str, chart: str) -> Finding:
    """A Helm error message as a finding placed in the chart's file, when the message names one."""
    match = _LOCATION.match(text.strip())
    if match:
        rest = _one_line(text.strip()[match.end() :])
        file = f"{chart}/{match['file']}"
        column = int(match["column"]) if match["column"] else None
        return Finding("error", rest, file, int(match["line"]), column)
    return Finding("error", _one_line(text), chart)


def lint(chart: Path, values: dict[str, Any], *, relative: str) -> list[Finding]:
    """helm lint --strict; `relative` is the chart's path in the meta-project."""
    import helm_python as helm

    report = helm.lint(str(chart), values, strict=True, kube_version=KUBE_VERSION)
    messages = [m for m in report.get("messages") or [] if int(m.get("severity", 0)) > 1]
    found = [locate(str(m.get("error", "")), relative) for m in messages]
    if not found:
        found = [locate(str(e), relative) for e in report.get("errors") or []]
    return found


def render(chart: Path, values: dict[str, Any], *, release: str, namespace: str, relative: str) -> list[Rendered]:
    """`helm template`: every object of every manifest (NOTES.txt and helpers left out)."""
    import helm_python as helm

    try:
        with helm.Chart.load(str(chart)) as loaded:
            output = loaded.render(values=values, name=release, namespace=namespace)
    except helm.HelmError as err:
        raise RenderError(locate(str(err), relative)) from None
    return parse(output, relative=relative)


def parse(output: dict[str, str], *, relative: str) -> list[Rendered]:
    """The objects of rendered templates ({template: text}); broken YAML raises RenderError."""
    import yaml

    found: list[Rendered] = []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for template, text in sorted(output.items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        try:
            docs = list(yaml.load_all(text, Loader=loader))
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f" (line {mark.line + 1} of its output)" if mark else ""
            message = f"renders invalid YAML{at}: {getattr(err, 'problem', None) or err}"
            raise RenderError(Finding("error", message, template_file(template, relative))) from None
        found += [Rendered(template, d) for d in docs if d]
    return found


def template_file(template: str, relative: str) -> str:
    """A rendered template's source file in the meta-project: '<chart>/templates/x' -> '<relative>/templates/x'."""
    return f"{relative}/{template.split('/', 1)[1]}" if "/" in template else relative
