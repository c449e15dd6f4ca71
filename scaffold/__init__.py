"""scaffold: create, run, test, deliver and update the services of a Docker + Kubernetes ecosystem."""

__version__ = "0.1.0"
