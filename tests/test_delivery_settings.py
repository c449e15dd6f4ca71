"""The delivery settings of ecosystem.yaml: approvals per environment, the commit a service in its own
repository is pinned to, and `alerting`. The parser (every command) and the JSON Schema
(`scaffold check`) must say the same about each."""

from __future__ import annotations

import pytest

from scaffold.ecosystem_file import EcosystemFileError, parse, problems

BASE = """\
name: shop
registry: registry.example.com/shop
template: {source: builtin, version: 0.1.0}
environments:
  test: {context: shop-test, namespace: shop-test, secret: shop-test-secrets}
  staging: {context: shop-staging, namespace: shop-staging, secret: shop-staging-secrets}
  production: {context: shop-production, namespace: shop, secret: shop-production-secrets}
services:
  payments:
    kind: backend
    path: services/payments
    repository: https://git.example.com/shop/payments.git
    port: 8001
    template: {source: builtin, version: 0.1.0}
"""
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_every_environment_but_test_waits_for_an_approval_by_default() -> None:
    model = parse(BASE).model
    assert {e.name: e.approval for e in model.environments} == {"test": False, "staging": True, "production": True}
    changed = parse(BASE.replace("secret: shop-staging-secrets}", "secret: shop-staging-secrets, approval: false}"))
    assert {e.name: e.approval for e in changed.model.environments}["staging"] is False
    assert problems(BASE) == []


def test_a_service_in_its_own_repository_is_pinned_to_a_commit() -> None:
    text = BASE + f"    commit: {COMMIT}\n"
    (service,) = parse(text).model.services
    assert service.commit == COMMIT
    assert problems(text) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (BASE + "    commit: main\n", "commit' must be the full 40-character id"),
        (BASE + f"    commit: {COMMIT[:12]}\n", "commit' must be the full 40-character id"),
        (
            BASE.replace("    repository: https://git.example.com/shop/payments.git\n", "") + f"    commit: {COMMIT}\n",
            "repository",
        ),
        (BASE.replace("secret: shop-test-secrets}", "secret: shop-test-secrets, approval: yes please}"), "approval"),
        (BASE + "alerting: {github_repository: 'not a repository'}\n", "OWNER/NAME"),
        (BASE + "alerting: {namespace: Monitoring}\n", "namespace"),
        (BASE + "alerting: {receivers: {service: {name: x}}}\n", "receivers"),
        (BASE + "alerting: {receivers: {team: {}}}\n", "receivers"),
    ],
    ids=["branch", "short", "no-repository", "approval", "github", "namespace", "receiver-name", "receiver-level"],
)
def test_bad_delivery_settings_are_refused_by_the_parser_and_the_schema(text: str, words: str) -> None:
    with pytest.raises(EcosystemFileError) as refused:
        parse(text)
    assert words in refused.value.message
    found = problems(text)
    assert found, "scaffold check finds it too"
    assert found[0].line is not None


def test_alerting_settings_reach_the_model() -> None:
    text = BASE + (
        "alerting:\n"
        "  namespace: observability\n"
        "  github_repository: acme/shop\n"
        "  receivers:\n"
        "    service: {webhook_configs: [{url_file: /etc/alertmanager/secrets/team-webhook}]}\n"
    )
    alerting = parse(text).model.alerting
    assert alerting.namespace == "observability" and alerting.github_repository == "acme/shop"
    assert alerting.receivers == {
        "service": {"webhook_configs": [{"url_file": "/etc/alertmanager/secrets/team-webhook"}]}
    }
    assert problems(text) == []
    assert parse(BASE).model.alerting.namespace == "monitoring"
