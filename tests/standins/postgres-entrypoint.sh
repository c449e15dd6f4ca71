#!/bin/sh
# The official postgres image's start-up contract, for the stand-in: a new data directory gets
# the POSTGRES_USER superuser with POSTGRES_PASSWORD, the database POSTGRES_DB and the scripts of
# /docker-entrypoint-initdb.d; then the server listens on every address with password auth.
set -eu
if [ "${1:-}" != postgres ]; then
    exec "$@"
fi
shift
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups sh "$0" postgres "$@"
fi
user=${POSTGRES_USER:-postgres}
database=${POSTGRES_DB:-$user}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password_file=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" >"$password_file"
    initdb --username="$user" --pwfile="$password_file" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 -D "$PGDATA" >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [ "$database" != postgres ]; then
        psql -v ON_ERROR_STOP=1 -q -U "$user" -d postgres -c "CREATE DATABASE \"$database\""
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case $script in
            *.sql) psql -v ON_ERROR_STOP=1 -q -U "$user" -d "$database" -f "$script" ;;
            *.sh) . "$script" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -c listen_addresses='*' "$@"
