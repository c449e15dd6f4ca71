# Stand-in for nginxinc/nginx-unprivileged:*-alpine: Debian's nginx-light and wget, run as a
# non-root user on port 8080 as the official image is. A test stand-in (another nginx version).
FROM localhost/scaffold-standin/debian:bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx-light wget \
    && rm -rf /var/lib/apt/lists/* \
    && printf '%s\n' 'pid /tmp/nginx.pid;' 'events {}' 'http {' '  include /etc/nginx/mime.types;' \
        '  client_body_temp_path /tmp/client_body;' '  proxy_temp_path /tmp/proxy;' \
        '  fastcgi_temp_path /tmp/fastcgi;' '  uwsgi_temp_path /tmp/uwsgi;' '  scgi_temp_path /tmp/scgi;' \
        '  server { listen 8080; root /usr/share/nginx/html; }' '}' > /etc/nginx/nginx.conf
EXPOSE 8080
USER 101
CMD ["nginx", "-e", "stderr", "-g", "daemon off;"]
