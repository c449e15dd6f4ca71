"""Delivering the umbrella chart to an environment: `scaffold deploy`, `rollback` and `status`.

The pipeline's jobs call these commands, so a delivery from CI and one from a laptop run the
same steps (docs/delivery.md):

    pre-flight (nothing changes)   helm >= 4.1, the cluster answers, namespace, Secret, custom APIs,
                                   the release is not mid-operation, every service has an image
    roll out                       helm upgrade --install --rollback-on-failure --wait=watcher
    smoke test                     helm test --logs
    roll back on failure           to the last good revision (helm rollback N), or uninstall a first install

`cluster.py` runs helm and kubectl against one environment, `history.py` reads a release's history
and picks the revision a rollback returns to, `preflight.py` checks an environment before anything
changes, `deploy.py`, `rollback.py` and `status.py` are the three operations.
"""
