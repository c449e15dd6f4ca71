#!/bin/sh
# The official rabbitmq image's start-up contract, for the stand-in: the default user from
# RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS, reachable from other containers, logs on stdout.
set -eu
mkdir -p /etc/rabbitmq/conf.d
{
    echo "loopback_users = none"
    echo "log.console = true"
    echo "log.file = false"
    if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then
        echo "default_user = $RABBITMQ_DEFAULT_USER"
        echo "default_pass = ${RABBITMQ_DEFAULT_PASS:?RABBITMQ_DEFAULT_PASS is required}"
    fi
} >/etc/rabbitmq/conf.d/10-standin.conf
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
exec "$@"
