# Stand-in for node:*-bookworm-slim: Debian trixie's Node.js 20 and npm 11 from the npm registry
# (Debian's npm is older than the frontend's engines accept). A test stand-in.
FROM localhost/scaffold-standin/debian:trixie
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs ca-certificates \
    && rm -rf /var/lib/apt/lists/*
ARG NPM_VERSION=11.21.3
ARG NPM_CONFIG_REGISTRY=https://registry.npmjs.org
# The CA bundle of the machine's network, only while npm is fetched (a build secret).
RUN --mount=type=secret,id=ca-bundle,required=false \
    if [ -s /run/secrets/ca-bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca-bundle; fi \
    && node -e "fetch(process.argv[1]).then((r) => { if (!r.ok) throw new Error(r.status); return r.arrayBuffer(); }).then((b) => require('fs').writeFileSync('/tmp/npm.tgz', Buffer.from(b)))" \
        "${NPM_CONFIG_REGISTRY%/}/npm/-/npm-${NPM_VERSION}.tgz" \
    && mkdir -p /usr/local/lib/node_modules/npm \
    && tar -xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 \
    && rm /tmp/npm.tgz \
    && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && npm --version
CMD ["node"]
