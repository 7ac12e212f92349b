"""The RFC 6962 tree against the CT reference vectors and transparency-dev's golden probes, then
a property test: every proof of a random tree verifies, and any alteration fails."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit import merkle
from app.audit.merkle import InvalidProof, LevelStore
from tests.tlog.vectors import PROBES, RFC6962

LEAVES = [bytes.fromhex(leaf) for leaf in RFC6962["leaves"]]


def _store() -> LevelStore:
    store = LevelStore()
    store.extend(LEAVES)
    return store


def _hexes(hashes: list[bytes]) -> list[str]:
    return [hash.hex() for hash in hashes]


def test_leaf_hashes_match_the_reference() -> None:
    assert [merkle.leaf_hash(leaf).hex() for leaf in LEAVES] == RFC6962["leaf_hashes"]


@pytest.mark.parametrize("size", range(9))
def test_roots_for_every_size_match_the_reference(size: int) -> None:
    expected = RFC6962["roots_by_size"][str(size)]
    assert _store().root(size).hex() == expected
    assert merkle.tree_root(LEAVES[:size]).hex() == expected


def test_every_complete_subtree_hash_matches_the_reference() -> None:
    store = _store()
    for level, hashes in enumerate(RFC6962["node_hashes"]):
        assert [store.subtree(level, index).hex() for index in range(len(hashes))] == hashes


def test_the_empty_tree_root_is_sha256_of_nothing() -> None:
    assert merkle.EMPTY_ROOT.hex() == RFC6962["roots_by_size"]["0"]
    assert LevelStore().root().hex() == RFC6962["roots_by_size"]["0"]


@pytest.mark.parametrize(
    "vector", RFC6962["inclusion"], ids=lambda v: f"{v['index']}-of-{v['size']}"
)
def test_sourced_inclusion_proofs_are_generated_and_verify(vector: dict[str, Any]) -> None:
    index, size = vector["index"], vector["size"]
    proof = merkle.inclusion_proof(_store().subtree, index, size)
    assert _hexes(proof) == vector["proof"]
    merkle.verify_inclusion(
        index,
        size,
        bytes.fromhex(RFC6962["leaf_hashes"][index]),
        [bytes.fromhex(h) for h in vector["proof"]],
        bytes.fromhex(RFC6962["roots_by_size"][str(size)]),
    )


@pytest.mark.parametrize(
    "vector", RFC6962["consistency"], ids=lambda v: f"{v['size1']}-to-{v['size2']}"
)
def test_sourced_consistency_proofs_are_generated_and_verify(vector: dict[str, Any]) -> None:
    old, new = vector["size1"], vector["size2"]
    proof = merkle.consistency_proof(_store().subtree, old, new)
    assert _hexes(proof) == vector["proof"]
    merkle.verify_consistency(
        old,
        new,
        bytes.fromhex(RFC6962["roots_by_size"][str(old)]),
        bytes.fromhex(RFC6962["roots_by_size"][str(new)]),
        [bytes.fromhex(h) for h in vector["proof"]],
    )


def _probe_id(probe: dict[str, Any]) -> str:
    return str(probe["file"]).removeprefix("testdata/")


@pytest.mark.parametrize("probe", PROBES["inclusion"], ids=_probe_id)
def test_inclusion_probes(probe: dict[str, Any]) -> None:
    def check() -> None:
        merkle.verify_inclusion(
            probe["index"],
            probe["size"],
            bytes.fromhex(probe["leaf_hash"]),
            [bytes.fromhex(h) for h in probe["proof"]],
            bytes.fromhex(probe["root"]),
        )

    if probe["want_err"]:
        with pytest.raises(InvalidProof):
            check()
    else:
        check()


@pytest.mark.parametrize("probe", PROBES["consistency"], ids=_probe_id)
def test_consistency_probes(probe: dict[str, Any]) -> None:
    def check() -> None:
        merkle.verify_consistency(
            probe["size1"],
            probe["size2"],
            bytes.fromhex(probe["root1"]),
            bytes.fromhex(probe["root2"]),
            [bytes.fromhex(h) for h in probe["proof"]],
        )

    if probe["want_err"]:
        with pytest.raises(InvalidProof):
            check()
    else:
        check()


def test_all_196_probes_are_there() -> None:
    assert len(PROBES["inclusion"]) + len(PROBES["consistency"]) == 196


def test_proofs_outside_the_tree_are_not_generated() -> None:
    store = _store()
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_proof(store.subtree, 8, 8)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(store.subtree, 0, 8)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(store.subtree, 5, 4)
    with pytest.raises(ValueError, match="no complete subtree"):
        merkle.root_hash(store.subtree, 9)


def test_a_misaligned_range_is_refused() -> None:
    with pytest.raises(ValueError, match="not a subtree"):
        merkle.range_root(_store().subtree, 1, 3)


# --- properties --------------------------------------------------------------------------------

# Distinct leaves: with two equal subtrees, swapping them is no change a hash could see.
entries = st.lists(st.binary(max_size=12), min_size=1, max_size=70, unique=True)


def _flip(hash: bytes, at: int) -> bytes:
    return hash[:at] + bytes([hash[at] ^ 0x01]) + hash[at + 1 :]


@settings(max_examples=60, deadline=None)
@given(entries, st.data())
def test_every_inclusion_proof_verifies_and_any_change_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    store = LevelStore()
    store.extend(leaves)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    root = store.root(size)
    assert root == merkle.tree_root(leaves[:size])
    leaf = merkle.leaf_hash(leaves[index])
    proof = merkle.inclusion_proof(store.subtree, index, size)
    merkle.verify_inclusion(index, size, leaf, proof, root)

    at = data.draw(st.integers(0, 31))
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(index, size, _flip(leaf, at), proof, root)
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(index, size, leaf, proof, _flip(root, at))
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1))
        altered = [*proof[:which], _flip(proof[which], at), *proof[which + 1 :]]
        with pytest.raises(InvalidProof):
            merkle.verify_inclusion(index, size, leaf, altered, root)
        with pytest.raises(InvalidProof):
            merkle.verify_inclusion(index, size, leaf, proof[:-1], root)
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(index, size, leaf, [*proof, leaf], root)
    other = data.draw(st.integers(0, size).filter(lambda i: i != index))
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(other, size, leaf, proof, root)
    # A size whose path to the leaf has the same shape cannot be told apart (the checkpoint
    # binds the size); at twice the size or more the leaf sits one level deeper at least.
    wrong_size = data.draw(st.integers(2 * size, 4 * size))
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(index, wrong_size, leaf, proof, root)


@settings(max_examples=60, deadline=None)
@given(entries, st.data())
def test_every_consistency_proof_verifies_and_any_change_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    store = LevelStore()
    store.extend(leaves)
    new = data.draw(st.integers(1, len(leaves)))
    old = data.draw(st.integers(1, new))
    old_root, new_root = store.root(old), store.root(new)
    proof = merkle.consistency_proof(store.subtree, old, new)
    merkle.verify_consistency(old, new, old_root, new_root, proof)

    at = data.draw(st.integers(0, 31))
    with pytest.raises(InvalidProof):
        merkle.verify_consistency(old, new, _flip(old_root, at), new_root, proof)
    with pytest.raises(InvalidProof):
        merkle.verify_consistency(old, new, old_root, _flip(new_root, at), proof)
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1))
        altered = [*proof[:which], _flip(proof[which], at), *proof[which + 1 :]]
        with pytest.raises(InvalidProof):
            merkle.verify_consistency(old, new, old_root, new_root, altered)
    if new > 1:
        wrong_old = data.draw(st.integers(1, new).filter(lambda s: s != old))
        with pytest.raises(InvalidProof):
            merkle.verify_consistency(wrong_old, new, old_root, new_root, proof)
    # As for inclusion, a new size whose paths have the same shape cannot be told apart.
    wrong_new = data.draw(st.integers(2 * new, 4 * new))
    with pytest.raises(InvalidProof):
        merkle.verify_consistency(old, wrong_new, old_root, new_root, proof)


@pytest.mark.parametrize("size", [4096, 4097, 8192, 3 * 4096 + 5])
def test_full_tree_hashing_by_blocks_matches_the_stored_levels(size: int) -> None:
    """Across the 4,096-leaf blocks tree_root hashes at a time: the same root as the level
    store's, which is built one leaf at a time."""
    leaves = [b"%d" % i for i in range(size)]
    store = LevelStore()
    store.extend(leaves)
    assert merkle.tree_root(leaves) == store.root()
