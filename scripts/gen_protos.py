"""Regenerate election_tui/etcd/_pb from protos/ (or, with --check, fail if it is stale).

The generated modules are rewritten to register their descriptors in a private pool, so our
`mvccpb.KeyValue` can live beside another etcd library's in one process, and to import each
other relatively, so they stay inside the package.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "election_tui" / "etcd" / "_pb"
POOL_MODULE = '"""Private descriptor pool of our generated etcd messages."""\n\nfrom google.protobuf import descriptor_pool\n\nPOOL = descriptor_pool.DescriptorPool()\n'
INIT_MODULE = '"""Generated etcd stubs (do not edit: run scripts/gen_protos.py)."""\n'


def _rewrite(name: str, text: str) -> str:
    modules = sorted(p.stem + "_pb2" for p in PROTOS.glob("*.proto"))
    for module in modules:
        text = re.sub(rf"^import {module} as ", f"from . import {module} as ", text, flags=re.M)
    if name.endswith("_pb2.py"):
        text = text.replace(
            "from google.protobuf.internal import builder as _builder\n",
            "from google.protobuf.internal import builder as _builder\nfrom ._pool import POOL as _POOL\n",
        )
        text = text.replace("_descriptor_pool.Default().AddSerializedFile(", "_POOL.AddSerializedFile(")
    return text


def generate(out: Path) -> None:
    from grpc_tools import protoc  # imported late: only the script and its test need it

    with tempfile.TemporaryDirectory() as raw:
        args = [
            "protoc",
            f"-I{PROTOS}",
            f"--python_out={raw}",
            f"--pyi_out={raw}",
            f"--grpc_python_out={raw}",
            *sorted(str(p) for p in PROTOS.glob("*.proto")),
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        out.mkdir(parents=True, exist_ok=True)
        for path in sorted(Path(raw).iterdir()):
            if path.name.startswith("kv_pb2_grpc"):
                continue  # kv.proto has no service
            (out / path.name).write_text(_rewrite(path.name, path.read_text()))
    (out / "_pool.py").write_text(POOL_MODULE)
    (out / "__init__.py").write_text(INIT_MODULE)


def stale_files(out: Path) -> list[str]:
    with tempfile.TemporaryDirectory() as fresh:
        generate(Path(fresh))
        expected = {p.name: p.read_text() for p in Path(fresh).iterdir() if p.is_file()}
    actual = {p.name: p.read_text() for p in out.iterdir() if p.is_file() and p.suffix in {".py", ".pyi"}}
    return sorted(n for n in expected.keys() | actual.keys() if expected.get(n) != actual.get(n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed stubs are stale")
    if parser.parse_args().check:
        stale = stale_files(OUT)
        if stale:
            sys.exit("stale generated stubs: " + ", ".join(stale) + " (run scripts/gen_protos.py)")
        return
    generate(OUT)


if __name__ == "__main__":
    main()
