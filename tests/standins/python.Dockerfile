# Stand-in for python:*-slim-bookworm: Debian's Python 3.11 with venv and pip, `python` and `pip`
# on PATH as the official image has them. A test stand-in (another Python version than the tag
# says), built from Debian's packages because no image registry is reachable in the test machines.
FROM localhost/scaffold-standin/debian:bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-pip python-is-python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
ENV LANG=C.UTF-8
CMD ["python3"]
