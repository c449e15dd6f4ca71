"""Talking to a container engine through the Docker Engine API (Docker, or Podman's service).

`connection` finds the engine and says which it is; `context` makes a service's build context;
`builders` build one Dockerfile target; `registry` pushes and reads digests; `runner` runs a test
image with its dependencies. `scaffold build` and `scaffold test` (scaffold/commands) put them
together. The docker SDK is imported only here, and only when a command needs an engine.
"""
