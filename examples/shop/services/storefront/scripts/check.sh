#!/usr/bin/env bash
# Everything CI checks, in one place: the Docker `test` target runs it as its command.
#   CHECK_AUDIT=0     skip `npm audit` (it asks the npm registry: machines without network)
#   CHECK_OUTDATED=0  skip the outdated-dependency check (it asks the npm registry too)
# Extra arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== typescript"
npm run --silent typecheck

echo "== eslint, prettier"
npm run --silent lint

echo "== API types match openapi/"
npm run --silent check:api

echo "== vitest"
npm test -- "$@"

echo "== licences"
node scripts/check-licenses.mjs

echo "== audit"
if [ "${CHECK_AUDIT:-1}" = "0" ]; then
    echo "skipped (CHECK_AUDIT=0)"
else
    npm audit --audit-level=low
fi

echo "== outdated dependencies"
if [ "${CHECK_OUTDATED:-1}" = "0" ]; then
    echo "skipped (CHECK_OUTDATED=0)"
else
    node scripts/check-outdated.mjs
fi
echo "== all checks passed"
