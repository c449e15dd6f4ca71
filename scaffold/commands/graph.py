"""`scaffold graph`: the ecosystem as a diagram, in mermaid (default), graphviz dot or SVG."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Final

from scaffold import ecosystem_file, graph
from scaffold.errors import NotFoundError, ScaffoldError, UsageError
from scaffold.project import find_root, reading
from scaffold.results import GraphResult

FORMATS: Final = ("mermaid", "dot", "svg")
DOT_TIMEOUT: Final = 60.0


def svg(dot_text: str) -> str:
    """`dot_text` rendered by graphviz's `dot -Tsvg`."""
    dot = shutil.which("dot")
    if dot is None:
        raise NotFoundError(
            "The svg format needs graphviz's `dot` program, and it is not on PATH.",
            "Install graphviz (apt-get install graphviz, brew install graphviz), or use --format mermaid or dot.",
        )
    try:
        proc = subprocess.run(
            [dot, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=DOT_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ScaffoldError(f"graphviz could not be run ({err}).", "Check `dot -V`; reinstall graphviz.") from None
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no message"])[0]
        raise ScaffoldError(f"graphviz failed to render the diagram: {first}", "Check `dot -V`; reinstall graphviz.")
    return proc.stdout


def render(start: Path, *, format: str) -> GraphResult:
    if format not in FORMATS:
        raise UsageError(f"Unknown format '{format}'.", f"Use one of: {', '.join(FORMATS)}.")
    root = find_root(start)
    with reading(root):  # a change a killed command left half done is finished or undone first
        picture = graph.build(ecosystem_file.load(root).model)
    if format == "mermaid":
        text = graph.mermaid(picture)
    elif format == "dot":
        text = graph.dot(picture)
    else:
        text = svg(graph.dot(picture))
    return GraphResult(root=root, format=format, text=text)
