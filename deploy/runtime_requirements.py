"""Print the requirements a container image installs: the project's runtime dependencies plus the extras named
(`sandbox` by default, for the image's `sandbox` role), from pyproject.toml. The Dockerfile installs them with
requirements.lock as constraints, so every version is the locked one and the dev tools (pytest, ruff, ...) stay out
of the image:

    python3 deploy/runtime_requirements.py [--extra sandbox] [--pyproject pyproject.toml] > requirements.txt
    pip install -c <requirements.lock without its pip options> -r requirements.txt
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path


def runtime_requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise SystemExit(f"unknown extra(s) {', '.join(unknown)} in {pyproject}; known: {', '.join(optional)}")
    return [*project["dependencies"], *(req for extra in extras for req in optional[extra])]


def lock_constraints(lock_text: str) -> str:
    """requirements.lock without its pip options (the lock names this machine's local package mirrors)."""
    return "".join(line + "\n" for line in lock_text.splitlines() if not line.lstrip().startswith("-"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", default=str(Path(__file__).resolve().parent.parent / "pyproject.toml"))
    parser.add_argument("--extra", action="append", help="an optional-dependencies group (default: sandbox)")
    parser.add_argument("--constraints-from", metavar="LOCK", help="print LOCK as a constraints file instead")
    args = parser.parse_args(argv)
    if args.constraints_from:
        sys.stdout.write(lock_constraints(Path(args.constraints_from).read_text()))
        return 0
    for requirement in runtime_requirements(Path(args.pyproject), args.extra or ["sandbox"]):
        print(requirement)
    return 0


if __name__ == "__main__":
    sys.exit(main())
