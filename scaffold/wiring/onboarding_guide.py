"""`docs/onboarding.md`: the onboarding walkthrough's steps (scaffold.onboarding) as a document."""

from __future__ import annotations

from scaffold.model import Ecosystem
from scaffold.onboarding import DOC_PATH, Layout, document
from scaffold.wiring._render import MARKDOWN_HEADER, text_file
from scaffold.wiring.compose import GATEWAY_PORT, JAEGER_UI_PORT, PROMETHEUS_PORT
from scaffold.wiring.files import DerivedFile
from scaffold.wiring.pipeline import WORKFLOW
from scaffold.wiring.umbrella import CHART_DIR


def layout() -> Layout:
    """Where the wiring puts what the onboarding steps point at."""
    return Layout(
        gateway_url=f"http://127.0.0.1:{GATEWAY_PORT}",
        jaeger_url=f"http://127.0.0.1:{JAEGER_UI_PORT}",
        prometheus_url=f"http://127.0.0.1:{PROMETHEUS_PORT}",
        chart_dir=CHART_DIR,
        workflow=WORKFLOW,
    )


def derive(ecosystem: Ecosystem) -> list[DerivedFile]:
    return [text_file(DOC_PATH, document(ecosystem, layout(), MARKDOWN_HEADER))]
