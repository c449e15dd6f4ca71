"""Re-vendor Swagger UI (`make vendor-assets`) in the backend template, where every backend's /docs
and the gateway's /api/docs take it from (scaffold.wiring.api_docs.vendor_dir): `npm pack` of the
version that its PIN.json names, its tarball checked against the pinned integrity (the
registry's sha512), the listed files copied and their sha256 recorded. Generation never downloads:
scaffold writes these files from the package (tests/test_api_docs.py checks them against the pin).

    python -m tests.vendor_assets [VERSION INTEGRITY]   # a new version: give both, from `npm view`
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from scaffold.wiring import api_docs

VENDOR = Path(__file__).resolve().parent.parent / "templates" / api_docs.VENDOR_IN_TEMPLATES
PIN = VENDOR / "PIN.json"


def main(argv: list[str]) -> None:
    pin = json.loads(PIN.read_text())
    if len(argv) == 2:
        pin["version"], pin["integrity"] = argv
        pin["tarball"] = f"https://registry.npmjs.org/{pin['package']}/-/{pin['package']}-{argv[0]}.tgz"
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["npm", "pack", f"{pin['package']}@{pin['version']}"], cwd=scratch, check=True)
        tarball = next(Path(scratch).glob("*.tgz"))
        digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if digest != pin["integrity"]:
            raise SystemExit(f"{tarball.name}: integrity {digest} is not the pinned {pin['integrity']}")
        with tarfile.open(tarball) as archive:
            for name in pin["files"]:
                member = archive.extractfile(f"package/{name}")
                if member is None:
                    raise SystemExit(f"{name} is not in {tarball.name}")
                (VENDOR / name).write_bytes(member.read())
    pin["files"] = {name: hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() for name in sorted(pin["files"])}
    PIN.write_text(json.dumps(pin, indent=2) + "\n")
    print(f"vendored {pin['package']} {pin['version']} into {VENDOR}")


if __name__ == "__main__":
    main(sys.argv[1:])
