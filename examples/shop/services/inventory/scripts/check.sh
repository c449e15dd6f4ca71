#!/usr/bin/env bash
# Everything CI checks, in one place: the Docker `test` target runs it as its command.
#   DATABASE_URL      PostgreSQL for the integration tests (required)
#   AMQP_URL          RabbitMQ for the integration tests (required)
#   CHECK_OUTDATED=0  skip the outdated-dependency check (machines without network)
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== ruff"
ruff check .
ruff format --check .

echo "== pytest"
python -m pytest "$@"

echo "== licences"
python scripts/check_licenses.py

echo "== outdated dependencies"
if [ "${CHECK_OUTDATED:-1}" = "0" ]; then
    echo "skipped (CHECK_OUTDATED=0)"
else
    python scripts/check_outdated.py requirements.txt requirements-dev.txt
fi
echo "== all checks passed"
