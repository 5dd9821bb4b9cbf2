#!/usr/bin/env python3
"""Regenerate checkforensics/images/pb/*_pb2.py from protos/*.proto.

The generated modules are checked in, so checkforensics needs no protoc at run time. This
script runs protoc (from the grpcio-tools package) over every .proto file and rewrites the
cross-imports protoc writes (``import fown_pb2 as fown__pb2``) into package-relative ones.

    python3 scripts/regen-protos.py           # rewrite the checked-in modules
    python3 scripts/regen-protos.py --check   # exit 1, naming each module that differs
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
PACKAGE_DIR = ROOT / "checkforensics" / "images" / "pb"
INIT_TEXT = '"""Protobuf modules generated from protos/*.proto by scripts/regen-protos.py; do not edit."""\n'

_LOCAL_IMPORT = re.compile(r"^import (\w+_pb2) as (\w+)$", re.MULTILINE)


def generate(out_dir: Path) -> list[Path]:
    """Run protoc into ``out_dir``; return the modules written."""
    try:
        from grpc_tools import protoc
    except ImportError:
        sys.exit("regen-protos: needs grpcio-tools (python3 -m pip install grpcio-tools)")
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(PROTOS.glob("*.proto"))
    out_dir.mkdir(parents=True, exist_ok=True)
    status = protoc.main(
        ["protoc", f"-I{PROTOS}", f"-I{well_known}", f"--python_out={out_dir}", *(str(s) for s in sources)]
    )
    if status != 0:
        sys.exit(f"regen-protos: protoc failed with status {status}")
    local = {source.stem.replace("-", "_") + "_pb2" for source in sources}
    modules: list[Path] = []
    for source in sources:
        module = out_dir / (source.stem.replace("-", "_") + "_pb2.py")
        text = module.read_text()
        text = _LOCAL_IMPORT.sub(
            lambda m: f"from . import {m[1]} as {m[2]}" if m[1] in local else m[0],
            text,
        )
        module.write_text(text)
        modules.append(module)
    (out_dir / "__init__.py").write_text(INIT_TEXT)
    return modules


def check() -> int:
    """Compare freshly generated modules with the checked-in ones."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch)
        generate(fresh)
        wanted = {path.name: path.read_text() for path in fresh.glob("*.py")}
    present = {path.name: path.read_text() for path in PACKAGE_DIR.glob("*.py")}
    drift = sorted(name for name in wanted.keys() | present.keys() if wanted.get(name) != present.get(name))
    for name in drift:
        state = "missing" if name not in present else "stale" if name in wanted else "not generated from protos/"
        print(f"checkforensics/images/pb/{name}: {state}")
    return 1 if drift else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report drift instead of rewriting")
    parser.add_argument(
        "--out", type=Path, default=PACKAGE_DIR, metavar="DIR", help="where to write the modules (default: %(default)s)"
    )
    args = parser.parse_args()
    if args.check:
        return check()
    modules = generate(args.out)
    print(f"wrote {len(modules)} modules to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
