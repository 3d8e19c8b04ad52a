"""The generated etcd stubs: up to date, wire-compatible, and in a descriptor pool of their own."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pool

from election_tui.etcd._pb import _pool, kv_pb2, rpc_pb2, rpc_pb2_grpc, v3election_pb2, v3election_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_stubs_match_the_protos() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr


def test_our_messages_live_in_a_private_pool() -> None:
    assert kv_pb2.DESCRIPTOR.pool is _pool.POOL
    assert _pool.POOL is not descriptor_pool.Default()
    for module in (kv_pb2, rpc_pb2, v3election_pb2):
        assert module.DESCRIPTOR.pool is _pool.POOL


def test_a_default_pool_copy_of_kv_proto_imports_beside_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As another etcd library would ship it: the same messages from another file path, registered
    in protobuf's default pool. Were ours there too, this import would fail on mvccpb.KeyValue."""
    from grpc_tools import protoc

    other = tmp_path / "otherlib" / "mvccpb"
    other.mkdir(parents=True)
    (other / "kv.proto").write_text((ROOT / "protos" / "kv.proto").read_text())
    assert protoc.main(["protoc", f"-I{tmp_path}", f"--python_out={tmp_path}", str(other / "kv.proto")]) == 0
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("otherlib", "otherlib.mvccpb", "otherlib.mvccpb.kv_pb2"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    theirs = importlib.import_module("otherlib.mvccpb.kv_pb2")

    assert theirs.DESCRIPTOR.pool is descriptor_pool.Default()
    assert theirs.KeyValue.DESCRIPTOR.full_name == kv_pb2.KeyValue.DESCRIPTOR.full_name == "mvccpb.KeyValue"
    assert theirs.KeyValue is not kv_pb2.KeyValue
    assert descriptor_pool.Default().FindMessageTypeByName("mvccpb.KeyValue") is theirs.KeyValue.DESCRIPTOR
    # Same wire format both ways.
    ours = kv_pb2.KeyValue(key=b"k", value=b"\xff", create_revision=3, mod_revision=4, version=2, lease=7)
    parsed = theirs.KeyValue.FromString(ours.SerializeToString())
    assert (parsed.key, parsed.value, parsed.create_revision, parsed.lease) == (b"k", b"\xff", 3, 7)
    assert kv_pb2.KeyValue.FromString(parsed.SerializeToString()) == ours


@pytest.mark.parametrize(
    ("module", "paths"),
    [
        (
            rpc_pb2_grpc,
            [
                "/etcdserverpb.KV/Range",
                "/etcdserverpb.KV/Txn",
                "/etcdserverpb.Watch/Watch",
                "/etcdserverpb.Lease/LeaseKeepAlive",
                "/etcdserverpb.Maintenance/Status",
                "/etcdserverpb.Auth/Authenticate",
            ],
        ),
        (
            v3election_pb2_grpc,
            [
                "/v3electionpb.Election/Campaign",
                "/v3electionpb.Election/Proclaim",
                "/v3electionpb.Election/Leader",
                "/v3electionpb.Election/Observe",
                "/v3electionpb.Election/Resign",
            ],
        ),
    ],
    ids=["rpc", "v3election"],
)
def test_grpc_method_paths_are_etcds(module: object, paths: list[str]) -> None:
    source = Path(module.__file__).read_text()  # type: ignore[attr-defined]

    for path in paths:
        assert f"'{path}'" in source


def test_message_names_are_etcds() -> None:
    assert rpc_pb2.RangeRequest.DESCRIPTOR.full_name == "etcdserverpb.RangeRequest"
    assert v3election_pb2.LeaderKey.DESCRIPTOR.full_name == "v3electionpb.LeaderKey"
    assert rpc_pb2.RangeResponse.DESCRIPTOR.fields_by_name["kvs"].message_type is kv_pb2.KeyValue.DESCRIPTOR
