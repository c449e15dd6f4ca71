#!/usr/bin/env bash
# Regenerate the locked requirements from pyproject.toml (asks the package index):
#   requirements.txt      the runtime dependencies, every one pinned, with the hashes of its files
#   requirements-dev.txt  the same versions plus the group `dev` (tests and checks)
# Versions already locked stay unless pyproject.toml's ranges exclude them: add --upgrade, or
# --upgrade-package NAME, to move them. The commands are also in the files' headers, which is
# how Renovate (renovate.json) refreshes them in its pull requests.
set -euo pipefail
cd "$(dirname "$0")/.."
uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
    --output-file requirements.txt "$@"
uv pip compile pyproject.toml --group dev --universal --python-version 3.11 --generate-hashes \
    --constraint requirements.txt --output-file requirements-dev.txt "$@"
