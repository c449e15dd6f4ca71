"""Fail when an installed package is not under an allowed (permissive) licence.

Licences come from pip-licenses (package metadata: License-Expression, classifiers, License).
A package outside the allow-list needs an entry in EXCEPTIONS with the reason it is acceptable.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

ALLOWED = {
    "0bsd",
    "apache",
    "apache 2.0",
    "apache-2.0",
    "apache license 2.0",
    "apache license, version 2.0",
    "apache software",
    "bsd",
    "bsd-2-clause",
    "bsd-3-clause",
    "3-clause bsd",
    "isc",
    "isc (iscl)",
    "mit",
    "mit-0",
    "psf-2.0",
    "python software foundation",
    "the unlicense (unlicense)",
    "unlicense",
    "zlib",
}

EXCEPTIONS = {
    "certifi": "MPL-2.0 (file-level copyleft): the CA bundle is used unmodified",
    "pathspec": "MPL-2.0 (file-level copyleft): mypy's, a test tool the runtime image never has",
    "psycopg": "LGPL-3.0: used as an unmodified library, imported at run time",
    "psycopg-binary": "LGPL-3.0: the unmodified binary build of psycopg",
}


def normalize(licence: str) -> str:
    text = licence.strip().lower().strip("()")
    return re.sub(r"\s+licen[cs]e\b", "", text).strip()


def allowed(expression: str) -> bool:
    """SPDX-ish: every AND term (or `;`-separated classifier) needs one allowed OR choice."""
    terms = re.split(r"\s+and\s+|;", expression, flags=re.IGNORECASE)
    return all(
        any(normalize(choice) in ALLOWED for choice in re.split(r"\s+or\s+", term, flags=re.I))
        for term in terms
        if term.strip()
    )


def main() -> int:
    output = subprocess.run(
        [sys.executable, "-m", "piplicenses", "--format=json", "--from=mixed", "--with-system"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    packages = json.loads(output)
    refused = []
    for package in packages:
        name = package["Name"].lower().replace("_", "-")
        if name in EXCEPTIONS:
            print(f"exception  {name} {package['Version']}: {EXCEPTIONS[name]}")
        elif not allowed(package["License"]):
            refused.append(f"{name} {package['Version']}: {package['License']}")
    print(f"{len(packages)} packages checked")
    if refused:
        print("licences outside the allow-list:", *refused, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
