# Stand-in for rabbitmq:*-management: Debian trixie's RabbitMQ with the management plugin, behind
# the official image's contract (RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS, logs on stdout,
# rabbitmq-diagnostics). A test stand-in (another RabbitMQ version).
FROM localhost/scaffold-standin/debian:trixie
RUN apt-get update \
    && apt-get install -y --no-install-recommends rabbitmq-server \
    && rm -rf /var/lib/apt/lists/* \
    && echo '[rabbitmq_management].' > /etc/rabbitmq/enabled_plugins
COPY rabbitmq-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
EXPOSE 5672 15672
ENTRYPOINT ["sh", "/usr/local/bin/docker-entrypoint.sh"]
CMD ["rabbitmq-server"]
