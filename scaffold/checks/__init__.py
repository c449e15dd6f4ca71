"""The validators behind `scaffold check`, as library code (tests/validators.py uses them too).

`runner.run(root)` runs every check of a meta-project and returns `CheckRun`s; each module wraps
one real validator: `source` (ecosystem.yaml's JSON Schema), `derived` (wiring in sync),
`answers` (Copier answers, template version), `compose` (Docker Compose v2), `charts` (Helm lint
and render, `kubernetes` schemas), `dockerfile` (hadolint), `checkov`. `tools` finds them.
"""
