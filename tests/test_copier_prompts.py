"""Copier imported without its questionnaire stack (scaffold/copier_prompts.py): the render path
never loads questionary, prompt_toolkit, pygments or wcwidth, writes what copier writes from the git
source, and copier still asks its questions through the real stack when it must ask.

Each check runs in a fresh interpreter: this test process has imported copier the usual way."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import copier
import pytest
import yaml

from scaffold import copier_prompts
from scaffold.templates import TEMPLATE_VERSION, builtin_ref, builtin_repository
from tests.helpers import diff, snapshot

BACKEND = {"kind": "backend", "name": "order-history", "ecosystem": "shop", "port": 8005}


def _python(code: str, *args: str) -> str:
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_a_render_after_the_deferred_import_loads_no_questionnaire_module_and_writes_what_copier_writes(
    tmp_path: Path,
) -> None:
    loaded = _python(
        """
        import json, sys
        from pathlib import Path
        from scaffold import copier_prompts, templates
        copier_prompts.import_copier()
        templates.render(templates.builtin_ref(), Path(sys.argv[1]), json.loads(sys.argv[2]))
        print(json.dumps(sorted(m for m in sys.modules if m.partition(".")[0] in copier_prompts.DEFERRED_PACKAGES)))
        """,
        str(tmp_path / "scaffold"),
        json.dumps(BACKEND),
    )
    assert json.loads(loaded) == []
    copier.run_copy(
        str(builtin_repository()),
        str(tmp_path / "copier"),
        data=BACKEND,
        vcs_ref=f"v{TEMPLATE_VERSION}",
        defaults=True,
        quiet=True,
        unsafe=True,
    )
    ours, theirs = snapshot(tmp_path / "scaffold"), snapshot(tmp_path / "copier")
    for tree in (ours, theirs):  # where the template came from: recorded differently on purpose
        answers = yaml.safe_load(tree.pop(".copier-answers.yml"))
        assert answers.pop("_src_path") and answers["_commit"] == f"v{TEMPLATE_VERSION}"
    assert builtin_ref().version == TEMPLATE_VERSION
    assert diff(ours, theirs) == []


def test_the_render_process_has_copier_imported_without_the_questionnaire_stack(tmp_path: Path) -> None:
    _python(
        """
        import json, sys
        from pathlib import Path
        from scaffold import copier_prompts, render_process

        def loaded(report):
            deferred = sorted(m for m in sys.modules if m.partition(".")[0] in copier_prompts.DEFERRED_PACKAGES)
            Path(report).write_text(json.dumps({"copier": "copier._main" in sys.modules, "deferred": deferred}))

        process = render_process.RenderProcess()
        process.send(loaded, (sys.argv[1],), {})
        process.wait()
        """,
        str(tmp_path / "report.json"),
    )
    assert json.loads((tmp_path / "report.json").read_text()) == {"copier": True, "deferred": []}


def test_a_copier_that_needs_a_name_no_stand_in_has_is_imported_the_usual_way(tmp_path: Path) -> None:
    (tmp_path / "template").mkdir()
    (tmp_path / "template" / "copier.yml").write_text("flavour:\n  type: str\n  choices: [vanilla, lemon]\n")
    (tmp_path / "template" / "out.txt.jinja").write_text("{{ flavour }}\n")
    real = _python(
        """
        import sys
        from scaffold import copier_prompts
        copier_prompts._STAND_INS = {**copier_prompts._STAND_INS, "questionary": ("confirm",)}  # no unsafe_prompt
        copier_prompts.import_copier()
        import copier, questionary
        copier.run_copy(sys.argv[1], sys.argv[2], data={"flavour": "lemon"}, defaults=True, quiet=True)
        print(copier._main.unsafe_prompt is questionary.unsafe_prompt)
        """,
        str(tmp_path / "template"),
        str(tmp_path / "out"),
    )
    assert real.strip() == "True"
    assert (tmp_path / "out" / "out.txt").read_text() == "lemon\n"


def test_without_the_deferred_import_copier_loads_the_questionnaire_stack() -> None:
    """What the test above would see without copier_prompts: the check can fail."""
    loaded = _python(
        """
        import json, sys
        import copier
        tops = {m.partition(".")[0] for m in sys.modules}
        print(json.dumps(sorted(tops & {"questionary", "prompt_toolkit", "pygments"})))
        """
    )
    assert json.loads(loaded) == ["prompt_toolkit", "pygments", "questionary"]


QUESTIONS = """\
flavour:
  type: str
  help: Which flavour
  choices: [vanilla, chocolate, lemon]
  default: vanilla
toppings:
  type: str
  help: Toppings
  multiselect: true
  choices: [nuts, cream, fruit]
  default: [nuts]
label:
  type: str
  help: Label
settings:
  type: yaml
  help: Settings
  default: {size: 1}
"""


def test_copier_still_asks_through_the_real_questionnaire_after_the_deferred_import(tmp_path: Path) -> None:
    template = tmp_path / "template"
    template.mkdir()
    (template / "copier.yml").write_text(QUESTIONS)
    (template / "out.txt.jinja").write_text(
        "{{ flavour }} {{ toppings | join(',') }} {{ label }} {{ settings.size }}\n"
    )
    keys = "".join(
        [
            "\x1b[B\r",  # flavour: down once, chocolate
            "\x1b[B \r",  # toppings: down to cream, toggle it (nuts stays checked)
            "tasty\r",  # label
            "\x15{size: 3}\r",  # settings: clear the default line, type YAML (highlighted by pygments)
            "y",  # the second copy: overwrite out.txt? yes
        ]
    )
    loaded = _python(
        """
        import json, sys
        from pathlib import Path
        from scaffold import copier_prompts
        copier_prompts.import_copier()
        before = sorted(m for m in sys.modules if m.partition(".")[0] in copier_prompts.DEFERRED_PACKAGES)
        import copier
        from prompt_toolkit.application import create_app_session
        from prompt_toolkit.input import create_pipe_input
        from prompt_toolkit.output import DummyOutput
        with create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
            keys.send_text(sys.argv[3])
            copier.run_copy(sys.argv[1], sys.argv[2], quiet=True, unsafe=True)
            first = Path(sys.argv[2], "out.txt").read_text()
            data = {"flavour": "lemon", "toppings": ["fruit"], "label": "sour", "settings": {"size": 2}}
            copier.run_copy(sys.argv[1], sys.argv[2], data=data, defaults=True, quiet=True, unsafe=True)
        print(json.dumps({"before": before, "first": first}))
        """,
        str(template),
        str(tmp_path / "out"),
        keys,
    )
    assert json.loads(loaded) == {"before": [], "first": "chocolate nuts,cream tasty 3\n"}
    assert (tmp_path / "out" / "out.txt").read_text() == "lemon fruit sour 2\n"  # confirmed through questionary


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("vanilla",), {}),
        (("Vanilla", "vanilla"), {"disabled": "sold out"}),
        (([("class:bold", "Van"), ("", "illa")],), {"checked": None}),
        (("zero", 0), {"checked": True, "shortcut_key": "z", "description": "none"}),
        ((None,), {}),
    ],
)
def test_a_pending_choice_becomes_the_choice_questionary_makes_of_the_same_arguments(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    from questionary.prompts.common import Choice

    pending = copier_prompts.PendingChoice(*args, **kwargs)  # type: ignore[arg-type]
    theirs = Choice(*args, **kwargs)  # type: ignore[arg-type]
    assert (pending.value, pending.disabled) == (theirs.value, theirs.disabled)
    assert vars(pending.real()) == vars(theirs)
