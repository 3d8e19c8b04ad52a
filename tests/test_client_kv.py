"""EtcdClient key-value calls against a real etcd: get, get_prefix, put, delete, txn, compact, status."""

from __future__ import annotations

import pytest
from helpers import binary_version

from election_tui.embedded import EmbeddedEtcd
from election_tui.etcd import (
    Compacted,
    Compare,
    DeleteResult,
    EtcdClient,
    InvalidArgument,
    Op,
    PutResult,
    RangeResult,
    RequestTooLarge,
    prefix_range_end,
)

pytestmark = pytest.mark.etcd_versions  # each test once per etcd version (conftest)

# -- put / get ------------------------------------------------------------------------------


async def test_put_returns_the_revision_that_get_reports(client: EtcdClient, prefix: bytes) -> None:
    rev = (await client.put(prefix + b"k", b"v1")).revision

    kv = await client.get(prefix + b"k")

    assert kv is not None
    assert (kv.key, kv.value) == (prefix + b"k", b"v1")
    assert kv.create_revision == kv.mod_revision == rev
    assert kv.version == 1
    assert kv.lease == 0


async def test_overwriting_keeps_create_revision_and_bumps_version(client: EtcdClient, prefix: bytes) -> None:
    first = (await client.put(prefix + b"k", b"v1")).revision
    second = (await client.put(prefix + b"k", b"v2")).revision

    kv = await client.get(prefix + b"k")

    assert kv is not None
    assert kv.value == b"v2"
    assert (kv.create_revision, kv.mod_revision, kv.version) == (first, second, 2)


async def test_put_with_prev_kv_returns_the_key_as_it_was_before(client: EtcdClient, prefix: bytes) -> None:
    created = await client.put(prefix + b"k", b"old", prev_kv=True)
    overwritten = await client.put(prefix + b"k", b"new", prev_kv=True)

    assert created.prev_kv is None  # the key was new
    before = overwritten.prev_kv
    assert before is not None
    assert (before.key, before.value, before.mod_revision, before.version) == (
        prefix + b"k",
        b"old",
        created.revision,
        1,
    )
    assert overwritten.revision > created.revision


async def test_put_leaves_the_previous_value_out_unless_asked(client: EtcdClient, prefix: bytes) -> None:
    await client.put(prefix + b"k", b"old")

    assert (await client.put(prefix + b"k", b"new")).prev_kv is None


async def test_get_of_a_missing_key_is_none(client: EtcdClient, prefix: bytes) -> None:
    assert await client.get(prefix + b"missing") is None


async def test_get_at_a_revision_reads_the_past(client: EtcdClient, prefix: bytes) -> None:
    old = (await client.put(prefix + b"k", b"old")).revision
    await client.put(prefix + b"k", b"new")

    kv = await client.get(prefix + b"k", revision=old)

    assert kv is not None
    assert kv.value == b"old"


async def test_str_keys_and_values_are_utf8_encoded(client: EtcdClient, prefix: bytes) -> None:
    key = prefix.decode() + "clé"
    await client.put(key, "välue")

    kv = await client.get(key.encode())

    assert kv is not None
    assert kv.value == "välue".encode()


async def test_non_utf8_bytes_round_trip(client: EtcdClient, prefix: bytes) -> None:
    key, value = prefix + b"\xff\xfe\x00k", b"\x80\x81\x00\xc3"
    await client.put(key, value)

    kv = await client.get(key)

    assert kv is not None
    assert (kv.key, kv.value) == (key, value)


async def test_a_key_that_is_neither_str_nor_bytes_is_invalid(client: EtcdClient) -> None:
    with pytest.raises(InvalidArgument, match="key must be str or bytes"):
        await client.get(42)  # type: ignore[arg-type]


async def test_a_request_over_the_size_limit_is_request_too_large(client: EtcdClient, prefix: bytes) -> None:
    with pytest.raises(RequestTooLarge, match="max-request-bytes"):
        await client.put(prefix + b"big", b"x" * (2 * 1024 * 1024))


# -- get_prefix -----------------------------------------------------------------------------


async def test_get_prefix_returns_only_keys_under_the_prefix_in_key_order(
    client: EtcdClient, prefix: bytes
) -> None:
    for key in (b"a/2", b"a/1", b"a/3", b"ab", b"b"):
        await client.put(prefix + key, key)

    result = await client.get_prefix(prefix + b"a/")

    assert [kv.key for kv in result.kvs] == [prefix + b"a/1", prefix + b"a/2", prefix + b"a/3"]
    assert result.count == 3
    assert not result.more
    assert result.revision >= max(kv.mod_revision for kv in result.kvs)


async def test_get_prefix_can_sort_by_create_revision(client: EtcdClient, prefix: bytes) -> None:
    for key in (b"c", b"a", b"b"):
        await client.put(prefix + key, b"")

    result = await client.get_prefix(prefix, sort_by_create=True)

    assert [kv.key for kv in result.kvs] == [prefix + b"c", prefix + b"a", prefix + b"b"]


async def test_get_prefix_limit_reports_more_and_the_full_count(client: EtcdClient, prefix: bytes) -> None:
    for i in range(5):
        await client.put(prefix + b"%d" % i, b"")

    result = await client.get_prefix(prefix, limit=2)

    assert len(result.kvs) == 2
    assert result.more
    assert result.count == 5


async def test_get_prefix_keys_only_omits_values(client: EtcdClient, prefix: bytes) -> None:
    await client.put(prefix + b"k", b"value")

    result = await client.get_prefix(prefix, keys_only=True)

    assert [(kv.key, kv.value) for kv in result.kvs] == [(prefix + b"k", b"")]


def test_prefix_range_end_increments_the_last_byte_below_0xff() -> None:
    assert prefix_range_end(b"a/") == b"a0"
    assert prefix_range_end(b"a\xff") == b"b"
    assert prefix_range_end(b"\xff\xff") == b"\0"
    assert prefix_range_end(b"") == b"\0"


# -- delete ---------------------------------------------------------------------------------


async def test_delete_returns_how_many_keys_went(client: EtcdClient, prefix: bytes) -> None:
    await client.put(prefix + b"k", b"v")

    assert await client.delete(prefix + b"k") == 1
    assert await client.delete(prefix + b"k") == 0
    assert await client.get(prefix + b"k") is None


async def test_delete_prefix_removes_only_keys_under_the_prefix(client: EtcdClient, prefix: bytes) -> None:
    for key in (b"a/1", b"a/2", b"ab", b"a"):
        await client.put(prefix + key, b"")

    deleted = await client.delete(prefix + b"a/", prefix=True)

    assert deleted == 2
    left = await client.get_prefix(prefix)
    assert [kv.key for kv in left.kvs] == [prefix + b"a", prefix + b"ab"]


# -- txn ------------------------------------------------------------------------------------


async def test_txn_runs_success_ops_when_every_compare_holds(client: EtcdClient, prefix: bytes) -> None:
    await client.put(prefix + b"k", b"expected")

    result = await client.txn(
        [Compare("value", prefix + b"k", "==", b"expected")],
        [Op.put(prefix + b"k", b"changed"), Op.put(prefix + b"other", b"written")],
        [Op.put(prefix + b"k", b"failure branch")],
    )

    assert result.succeeded
    kv = await client.get(prefix + b"k")
    other = await client.get(prefix + b"other")
    assert kv is not None and other is not None
    assert (kv.value, other.value) == (b"changed", b"written")
    assert kv.mod_revision == other.mod_revision == result.revision


async def test_txn_runs_failure_ops_when_a_compare_fails(client: EtcdClient, prefix: bytes) -> None:
    await client.put(prefix + b"k", b"actual")

    result = await client.txn(
        [Compare("value", prefix + b"k", "==", b"expected")],
        [Op.delete(prefix + b"k")],
        [Op.put(prefix + b"failed", b"yes")],
    )

    assert not result.succeeded
    assert await client.get(prefix + b"k") is not None
    assert await client.get(prefix + b"failed") is not None


async def test_txn_success_branch_returns_one_response_per_op(client: EtcdClient, prefix: bytes) -> None:
    await client.put(prefix + b"dir/a", b"1")
    await client.put(prefix + b"dir/b", b"2")
    await client.put(prefix + b"gone/x", b"3")

    result = await client.txn(
        [Compare("version", prefix + b"dir/a", "==", 1)],
        [
            Op.get(prefix + b"dir/a"),
            Op.get(prefix + b"dir/", prefix=True),
            Op.get(prefix + b"missing"),
            Op.put(prefix + b"new", b"4"),
            Op.delete(prefix + b"gone/", prefix=True),
        ],
        [Op.put(prefix + b"failure", b"never")],
    )

    assert result.succeeded
    one, many, missing, put, deleted = result.responses
    assert isinstance(one, RangeResult) and isinstance(many, RangeResult) and isinstance(missing, RangeResult)
    assert [(kv.key, kv.value) for kv in one.kvs] == [(prefix + b"dir/a", b"1")]
    assert [(kv.key, kv.value) for kv in many.kvs] == [(prefix + b"dir/a", b"1"), (prefix + b"dir/b", b"2")]
    assert (missing.kvs, missing.count) == ((), 0)
    assert put == PutResult(result.revision, None)
    assert deleted == DeleteResult(1, result.revision)
    assert await client.get(prefix + b"failure") is None


async def test_a_txn_get_sorted_by_create_revision_and_limited_reads_the_oldest_key(
    client: EtcdClient, prefix: bytes
) -> None:
    """etcd sorts and limits a Range inside a Txn as in a plain one, and that Range sees the
    Txn's own put (campaign's one-round-trip path relies on both)."""
    await client.put(prefix + b"e/zzz", b"x")  # the oldest key, and the last in key order
    await client.put(prefix + b"e/aaa", b"y")

    result = await client.txn(
        [Compare("create", prefix + b"e/mine", "==", 0)],
        [
            Op.put(prefix + b"e/mine", b"z"),
            Op.get(prefix + b"e/", prefix=True, sort_by_create=True, limit=1, keys_only=True),
            Op.get(prefix + b"e/", prefix=True, limit=2),
        ],
    )

    _, oldest, first_two = result.responses
    assert isinstance(oldest, RangeResult) and isinstance(first_two, RangeResult)
    assert [(kv.key, kv.value) for kv in oldest.kvs] == [(prefix + b"e/zzz", b"")]  # keys only
    assert (oldest.more, oldest.count) == (True, 3)  # 1 of 3 keys, the Txn's own put included
    assert [kv.key for kv in first_two.kvs] == [prefix + b"e/aaa", prefix + b"e/mine"]  # key order


async def test_a_get_limit_must_be_a_whole_number_of_keys() -> None:
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(InvalidArgument, match="limit"):
            Op.get(b"k", prefix=True, limit=bad)  # type: ignore[arg-type]


async def test_txn_failure_branch_returns_the_responses_of_its_own_ops(
    client: EtcdClient, prefix: bytes
) -> None:
    await client.put(prefix + b"k", b"actual")

    result = await client.txn(
        [Compare("value", prefix + b"k", "==", b"expected")],
        [Op.put(prefix + b"success", b"never"), Op.get(prefix + b"k")],
        [Op.get(prefix + b"k"), Op.delete(prefix + b"nothing-here"), Op.put(prefix + b"failed", b"yes")],
    )

    assert not result.succeeded
    got, deleted, put = result.responses
    assert isinstance(got, RangeResult)
    assert [kv.value for kv in got.kvs] == [b"actual"]
    assert deleted == DeleteResult(0, result.revision)
    assert put == PutResult(result.revision, None)
    written = await client.get(prefix + b"failed")
    assert written is not None and written.mod_revision == result.revision


async def test_a_txn_without_ops_returns_no_responses(client: EtcdClient, prefix: bytes) -> None:
    result = await client.txn([Compare("version", prefix + b"k", "==", 0)], [])

    assert result.succeeded
    assert result.responses == ()


async def test_txn_version_zero_means_create_only_if_absent(client: EtcdClient, prefix: bytes) -> None:
    key = prefix + b"once"
    create = ([Compare("version", key, "==", 0)], [Op.put(key, b"first")])

    assert (await client.txn(*create)).succeeded
    assert not (await client.txn([Compare("version", key, "==", 0)], [Op.put(key, b"second")])).succeeded
    kv = await client.get(key)
    assert kv is not None and kv.value == b"first"


async def test_txn_create_revision_check_fences_off_a_stale_leader(client: EtcdClient, prefix: bytes) -> None:
    """etcd's fencing token: a write guarded by the leader key's create revision fails once the
    key was deleted and created again, even though the key name and value are the same."""
    leader_key, data = prefix + b"election/leader", prefix + b"data"
    old_rev = (await client.put(leader_key, b"me")).revision
    guarded = [Compare("create", leader_key, "==", old_rev)]

    assert (await client.txn(guarded, [Op.put(data, b"from the leader")])).succeeded

    await client.delete(leader_key)
    new_rev = (await client.put(leader_key, b"me")).revision
    assert new_rev != old_rev

    stale = await client.txn(guarded, [Op.put(data, b"from a stale leader")])

    assert not stale.succeeded
    kv = await client.get(data)
    assert kv is not None and kv.value == b"from the leader"


async def test_txn_compares_mod_revision_and_lease(client: EtcdClient, prefix: bytes) -> None:
    lease = await client.lease_grant(10)
    rev = (await client.put(prefix + b"k", b"v", lease=lease.id)).revision

    result = await client.txn(
        [Compare("mod", prefix + b"k", "==", rev), Compare("lease", prefix + b"k", "==", lease.id)],
        [Op.get(prefix + b"k")],
    )

    assert result.succeeded
    await client.lease_revoke(lease.id)


async def test_txn_comparison_operand_must_match_the_target(client: EtcdClient, prefix: bytes) -> None:
    with pytest.raises(InvalidArgument, match="value comparison needs str or bytes"):
        await client.txn([Compare("value", prefix + b"k", "==", 1)], [])
    with pytest.raises(InvalidArgument, match="create comparison needs an int"):
        await client.txn([Compare("create", prefix + b"k", "==", b"1")], [])


# -- compact --------------------------------------------------------------------------------


async def test_compact_discards_history_before_the_revision(client: EtcdClient, prefix: bytes) -> None:
    old = (await client.put(prefix + b"k", b"old")).revision
    current = (await client.put(prefix + b"k", b"new")).revision

    await client.compact(current)

    with pytest.raises(Compacted, match="compacted"):
        await client.get(prefix + b"k", revision=old)
    kv = await client.get(prefix + b"k")
    assert kv is not None and kv.value == b"new"


async def test_compacting_an_already_compacted_revision_is_compacted(
    client: EtcdClient, prefix: bytes
) -> None:
    rev = (await client.put(prefix + b"k", b"v")).revision
    await client.compact(rev)

    with pytest.raises(Compacted):
        await client.compact(rev)


# -- cluster --------------------------------------------------------------------------------


async def test_status_reports_version_leader_and_revision(
    client: EtcdClient, etcd: EmbeddedEtcd, prefix: bytes
) -> None:
    rev = (await client.put(prefix + b"k", b"v")).revision

    status = await client.status()

    assert status.version == binary_version(etcd.etcd_bin)  # what the binary says: 3.5.1 or 3.4.23
    assert status.member_id != 0
    assert status.leader == status.member_id  # a single member leads itself
    assert status.revision >= rev
    assert status.raft_term >= 1
    assert status.db_size > 0
    assert status.errors == ()


async def test_status_of_a_given_endpoint_index(client: EtcdClient) -> None:
    assert (await client.status(0)).member_id == (await client.status()).member_id


async def test_member_list_names_the_member_and_its_client_url(
    client: EtcdClient, endpoints: list[str]
) -> None:
    members = await client.member_list()

    assert len(members) == len(endpoints)
    member = members[0]
    assert member.id == (await client.status()).member_id
    assert not member.is_learner
    assert member.peer_urls
    assert any(url.endswith(endpoints[0].rpartition("/")[2]) for url in member.client_urls)


async def test_endpoints_may_be_given_as_etcdctl_s_comma_separated_string(endpoints: list[str]) -> None:
    async with EtcdClient(",".join([*endpoints, "127.0.0.1:1"])) as c:
        assert [str(e) for e in c.endpoints] == [f"http://{endpoints[0]}", "http://127.0.0.1:1"]
        assert (await c.status()).version.startswith("3.")
