"""One validator of ecosystem.yaml (issue 10, items 2, 8 and 9): every command that reads the file
applies the rules `scaffold check` applies, refuses the same content with the same message, and
changes nothing; a service's path is a directory of its own inside the meta-project.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import diff, scaffold, snapshot

USAGE, CHECK_FAILED = 2, 5
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shop"


def _add_service(name: str, **fields: str) -> Callable[[str], str]:
    """An edit of ecosystem.yaml's text adding a backend `name` (fields override its defaults)."""

    def edit(text: str) -> str:
        values = {
            "kind": "backend",
            "path": f"services/{name}",
            "port": "8100",
            "route": f"/api/{name}",
            "template": "{source: builtin, version: 0.1.0}",
            **fields,
        }
        entry = f"  {name}:\n" + "".join(f"    {k}: {v}\n" for k, v in values.items() if v != "-")
        return text + entry

    return edit


def _replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def _bomb(text: str) -> str:
    levels = ["x-bomb-0: &b0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 9):
        aliases = ", ".join([f"*b{level - 1}"] * 10)
        levels.append(f"x-bomb-{level}: &b{level} [{aliases}]")
    return text.replace("services:", "\n".join(levels) + "\nservices:", 1)


def _deep(text: str) -> str:
    return text.replace("services:", "x-deep: " + "[" * 3000 + "]" * 3000 + "\nservices:", 1)


# (id, edit of ecosystem.yaml after `new backend orders`, words of the one message every command gives)
REFUSED: list[tuple[str, Callable[[str], str], str]] = [
    ("unknown key", _replace("    kind: backend", "    kind: backend\n    colour: red"), "unknown field 'colour'"),
    ("calls an unknown service", _add_service("web", kind="frontend", route="/", calls="[nosuch]"), "'nosuch'"),
    ("a second route /", _add_service("web", kind="frontend", route="/api/orders"), "also the route of 'orders'"),
    ("two services on one path", _add_service("billing", path="services/orders"), "is the path of 'orders'"),
    ("a path inside another", _add_service("billing", path="services/orders/billing"), "inside or around"),
    ("unknown template version", _replace("version: 0.1.0\n    needs", "version: 9.9.9\n    needs"), "9.9.9"),
    ("a name clashing with objects", _add_service("orders-migrate"), "clashes with the 'migrate' objects"),
    ("a python keyword as name", _add_service("import"), "Python keyword"),
    ("a system namespace", _replace("namespace: shop\n", "namespace: kube-system\n"), "system namespace"),
    ("a namespace with spaces", _replace("namespace: shop\n", "namespace: 'Shop Test!'\n"), "DNS-1123 label"),
    ("a route with nginx syntax", _replace("route: /api/orders", "route: '/api/x { return 200; }'"), "path prefix"),
    ("a context with an expression", _replace("context: shop-test", "context: '${{ secrets.X }}'"), "kubeconfig"),
    ("a registry with a newline", _replace("registry: registry.example.com/shop", 'registry: "r.io/x\\ny"'), "image"),
    ("a port of the infrastructure", _replace("port: 8001", "port: 9090"), "shared infrastructure"),
    (
        "an owner that is no team name",
        _replace("    kind: backend", "    kind: backend\n    owner: 'Team A'"),
        "team name",
    ),
    (
        "a GitHub handle without @",
        _replace("services:", "teams:\n  payments: {github: acme/payments}\nservices:"),
        "GitHub",
    ),
    ("a YAML alias bomb", _bomb, "more than 100000 values"),
    ("deep nesting", _deep, "nested"),
    *[
        (f"path {path}", _add_service("billing", path=path), "path")
        for path in (
            *(".git", ".scaffold", "services", "deploy", "deploy/chart", ".", "/tmp/x", "../x", "a//b"),
            '"services/bil\\0ling"',  # a NUL in the path (YAML's escape): no "embedded null byte" crash
        )
    ],
]


def _limited_memory() -> None:
    """A command that tried to expand an alias bomb would hit this instead of the machine's memory."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scaffold", *args],
        cwd=root,
        capture_output=True,
        text=True,
        input="",
        preexec_fn=_limited_memory,
    )


@pytest.fixture(scope="module")
def with_orders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("validator")
    scaffold("init", "shop", "--defaults", cwd=parent)
    root = parent / "shop"
    scaffold("new", "backend", "orders", "--defaults", cwd=root)
    return root


@pytest.mark.parametrize(("edit", "words"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_every_command_refuses_what_check_refuses(
    with_orders: Path, tmp_path: Path, edit: Callable[[str], str], words: str
) -> None:
    root = tmp_path / "shop"
    subprocess.run(["cp", "-a", str(with_orders), str(root)], check=True)
    path = root / "ecosystem.yaml"
    path.write_text(edit(path.read_text()))
    before = snapshot(root)
    checked = _run(root, "check", "--no-checkov", "--json")
    assert checked.returncode == CHECK_FAILED, checked.stderr
    assert words in checked.stdout, checked.stdout
    for command in (
        ["sync"],
        ["new", "backend", "billing2", "--defaults"],
        ["remove", "orders", "--delete-code"],
        ["update", "orders"],
        ["list"],
        ["graph"],
    ):
        proc = _run(root, *command)
        assert proc.returncode == USAGE, f"{command}: {proc.stdout}{proc.stderr}"
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("error: ecosystem.yaml") and words in lines[0], proc.stderr
        assert lines[1].startswith("hint: ")
    assert diff(before, snapshot(root)) == []


def test_remove_delete_code_never_deletes_the_meta_projects_history(with_orders: Path, tmp_path: Path) -> None:
    """The issue's case: a service whose path is `.git`, then `remove NAME --delete-code`."""
    root = tmp_path / "shop"
    subprocess.run(["cp", "-a", str(with_orders), str(root)], check=True)
    path = root / "ecosystem.yaml"
    path.write_text(path.read_text().replace("path: services/orders", "path: .git"))
    proc = scaffold("remove", "orders", "--delete-code", "--force", cwd=root, check=False)
    assert proc.returncode == USAGE, proc.stderr
    assert (root / ".git" / "HEAD").is_file()


def test_a_service_path_through_a_symlink_is_refused(with_orders: Path, tmp_path: Path) -> None:
    root = tmp_path / "shop"
    subprocess.run(["cp", "-a", str(with_orders), str(root)], check=True)
    outside = tmp_path / "outside"
    (root / "services" / "orders").rename(outside)
    (root / "services" / "orders").symlink_to(outside)
    for command in (["check", "--no-checkov"], ["sync"], ["remove", "orders", "--delete-code", "--force"]):
        proc = scaffold(*command, cwd=root, check=False)
        assert proc.returncode in (USAGE, CHECK_FAILED), proc.stderr
        assert "symbolic link" in proc.stdout + proc.stderr
    assert (outside / "pyproject.toml").is_file()


def test_quoted_strings_in_environment_values_work(with_orders: Path, tmp_path: Path) -> None:
    """Item 9: `tag: "1.2.3"` (the documented place for image tags) used to crash sync, new and remove."""
    root = tmp_path / "shop"
    subprocess.run(["cp", "-a", str(with_orders), str(root)], check=True)
    path = root / "ecosystem.yaml"
    text = path.read_text()
    values = "    values:\n      orders:\n        image:\n          tag: \"1.2.3\"\n          pullPolicy: 'Always'\n"
    path.write_text(text.replace("    values: {}\n", values, 1))
    scaffold("sync", cwd=root)
    assert "tag: 1.2.3" in (root / "deploy" / "chart" / "values-test.yaml").read_text()
    scaffold("new", "backend", "billing", "--defaults", cwd=root)
    scaffold("remove", "billing", "--delete-code", cwd=root)
    assert scaffold("check", "--no-checkov", cwd=root, check=False).returncode == 0


def test_the_meta_projects_own_entries_cover_everything_it_is_made_of(pristine_ecosystem: Path) -> None:
    """A service's path may not take a derived directory: the list of them is the wiring's output."""
    from scaffold import ecosystem_file
    from scaffold.model import DERIVED_ENTRIES, META_PROJECT_ENTRIES, SERVICES_DIR
    from scaffold.wiring import derive

    derived = {f.path.split("/", 1)[0] for f in derive(ecosystem_file.load(EXAMPLE).model)}
    assert derived == DERIVED_ENTRIES
    made = {p.name for p in pristine_ecosystem.iterdir()}
    assert made <= META_PROJECT_ENTRIES | {SERVICES_DIR}
