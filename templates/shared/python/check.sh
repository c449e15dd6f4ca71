#!/usr/bin/env bash
# Everything CI checks, in one place: the Docker `test` target runs it as its command.
#   DATABASE_URL      PostgreSQL for the integration tests (required)
#   AMQP_URL          RabbitMQ for the integration tests (required)
#   CHECK_STRICT=1    the vulnerability audit and the outdated-dependency check fail the run.
#                     By default they report what they find (or that they could not ask) and the
#                     run goes on: the same default locally, in `scaffold test` and in the
#                     pipeline, so a release published elsewhere never breaks a delivery; a
#                     scheduled run with CHECK_STRICT=1 (`scaffold test --strict`) is where a
#                     newer release or a new advisory fails
#   CHECK_AUDIT=0     skip the vulnerability audit (pip-audit asks PyPI's advisory data)
#   CHECK_OUTDATED=0  skip the outdated-dependency check (asks the package index)
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

{% include "shared/checks/finding.sh" %}
echo "== ruff"
ruff check .
ruff format --check .

echo "== mypy (strict)"
mypy

echo "== pytest"
python -m pytest "$@"

echo "== licences"
python scripts/check_licenses.py

echo "== vulnerabilities (pip-audit)"
if [ "${CHECK_AUDIT:-1}" = "0" ]; then
    echo "skipped (CHECK_AUDIT=0)"
else
    # The lock, as locked: nothing is installed or resolved. --strict: a package the advisory
    # data cannot be found for fails the audit, so an unreachable service never reads as "no
    # known vulnerabilities".
    if ! pip-audit --strict --progress-spinner off --disable-pip -r requirements-dev.txt; then
        echo "upgrade what the audit names (scripts/lock.sh --upgrade-package NAME)," \
            "or set CHECK_AUDIT=0 where PyPI's advisory data cannot be reached" >&2
        finding "the vulnerability audit"
    fi
fi

echo "== outdated dependencies"
if [ "${CHECK_OUTDATED:-1}" = "0" ]; then
    echo "skipped (CHECK_OUTDATED=0)"
else
    python scripts/check_outdated.py requirements.txt requirements-dev.txt ||
        finding "the outdated-dependency check"
fi
echo "== all checks passed"
