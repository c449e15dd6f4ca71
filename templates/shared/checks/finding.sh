# A dependency check found something (or could not ask): fail only when strict.
finding() {
    if [ "${CHECK_STRICT:-0}" = "1" ]; then
        echo "$1: failed (CHECK_STRICT=1)" >&2
        exit 1
    fi
    echo "warning: $1 did not pass (see above); the run goes on (CHECK_STRICT=1 makes it fail)" >&2
}
