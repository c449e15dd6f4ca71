#!/bin/sh
# Start of the web server container: writes the page's run-time configuration, then runs the
# command (nginx). One image serves every environment; what differs is in the environment:
#
#   /config.json   the variables below that are set, as JSON strings (read by src/config.ts);
#                  only these reach the browser, never the rest of the container's environment
#   runtime.conf   `set $connect_src ...`: the Content-Security-Policy's connect-src, 'self' plus
#                  the origins of API_BASE_URL, AUTH_ISSUER (discovery and token endpoint) and the
#                  OTLP endpoints when they are absolute URLs
#
# Both go to $FRONTEND_RUNTIME_DIR (/tmp/nginx, where docker/nginx.conf reads them).
set -eu

# Keep in sync with RUNTIME_VARIABLES in src/runtime-env.ts (a test compares them).
VARIABLES="API_BASE_URL
AUTH_ISSUER
AUTH_CLIENT_ID
AUTH_SCOPE
AUTH_AUDIENCE
OTEL_SDK_DISABLED
OTEL_SERVICE_NAME
OTEL_RESOURCE_ATTRIBUTES
OTEL_TRACES_EXPORTER
OTEL_EXPORTER_OTLP_ENDPOINT
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
OTEL_TRACES_SAMPLER
OTEL_TRACES_SAMPLER_ARG
OTEL_BSP_SCHEDULE_DELAY"

runtime_dir=${FRONTEND_RUNTIME_DIR:-/tmp/nginx}
newline='
'

fail() {
    echo "error: $1" >&2
    echo "hint: $2" >&2
    exit 64
}

# The value of the variable named $1, and whether it is set (exit status).
is_set() {
    eval "[ -n \"\${$1+set}\" ]"
}

value_of() {
    eval "printf '%s' \"\${$1}\""
}

# A value goes into JSON between quotes as it is: refuse what would need escaping.
check_value() {
    case $2 in
        *\"* | *\\* | *"$newline"*)
            fail "$1 contains a double quote, a backslash or a newline" \
                "set $1 to a URL or a plain word list (see the README's Configuration section)"
            ;;
    esac
    if printf '%s' "$2" | LC_ALL=C grep -q '[[:cntrl:]]'; then
        fail "$1 contains a control character" "set $1 to printable text"
    fi
}

# The origin (scheme://host[:port]) of an absolute http(s) URL; nothing for a path or blank.
origin_of() {
    lower=$(printf '%s' "$2" | LC_ALL=C tr '[:upper:]' '[:lower:]')
    case $lower in
        http://* | https://*) ;;
        *) return 0 ;;
    esac
    origin=$(printf '%s' "$lower" | sed -E 's#^(https?://[^/?#]*).*#\1#')
    if ! printf '%s' "$origin" | grep -Eq '^https?://[a-z0-9.-]+(:[0-9]{1,5})?$'; then
        fail "$1 is not a URL with a plain host name: $2" "use e.g. https://api.example.com or a path such as /otlp"
    fi
    printf ' %s' "$origin"
}

json='{'
separator=''
for name in $VARIABLES; do
    if is_set "$name"; then
        value=$(value_of "$name")
        check_value "$name" "$value"
        json="$json$separator\"$name\":\"$value\""
        separator=','
    fi
done
json="$json}"

connect_src="'self'"
for name in API_BASE_URL AUTH_ISSUER OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; do
    if is_set "$name"; then
        connect_src="$connect_src$(origin_of "$name" "$(value_of "$name")")"
    fi
done

mkdir -p "$runtime_dir"
printf '%s\n' "$json" >"$runtime_dir/config.json.new"
mv "$runtime_dir/config.json.new" "$runtime_dir/config.json"
# shellcheck disable=SC2016 # $connect_src is nginx's variable, written as it is
printf 'set $connect_src "%s";\n' "$connect_src" >"$runtime_dir/runtime.conf"

exec "$@"
