"""The RFC 6962 / RFC 9162 Merkle tree the audit log becomes (issue 20): hashes, proofs, checks.

Pure functions over bytes, no database: the tree is read through a :data:`SubtreeHash`, a
callable giving the hash of the complete subtree at ``(level, index)`` (the ``2**level``
leaves from ``index * 2**level``). An in-memory :class:`LevelStore` provides one for tests and
benchmarks; a stored table of hashes by level, or C2SP tlog-tiles, plug in the same way, so
proofs cost O(log² n) look-ups whatever the size of the log.

Proof generation follows RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF), written as
loops from the root down; verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, so
that a verifier reading the RFC can check this file line by line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

SubtreeHash = Callable[[int, int], bytes]
"""``(level, index) -> hash`` of the complete subtree over leaves
``[index * 2**level, (index + 1) * 2**level)``."""


class InvalidProof(ValueError):
    """A proof that does not establish what it is offered for (or asks for an impossible tree)."""


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry): the prefix keeps a leaf from passing for an interior node."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below ``size`` (size ≥ 2): RFC 6962's ``k``."""
    return 1 << ((size - 1).bit_length() - 1)


def range_root(subtree: SubtreeHash, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range that is a node of some RFC 6962 tree: ``start`` a multiple
    of the largest power of two not above ``end - start`` (every range a proof needs is).

    The range splits into complete subtrees, largest first, folded from the right, which is how
    RFC 6962 shapes an incomplete tree."""
    if not 0 <= start < end:
        raise ValueError(f"no leaves in [{start}, {end})")
    parts: list[bytes] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"[{start}, {end}) is not a subtree of an RFC 6962 tree")
        parts.append(subtree(level, start >> level))
        start += 1 << level
    root = parts.pop()
    while parts:
        root = node_hash(parts.pop(), root)
    return root


def root_hash(subtree: SubtreeHash, size: int) -> bytes:
    """The tree head's root for ``size`` leaves (SHA-256 of nothing for the empty tree)."""
    if size < 0:
        raise ValueError("a tree size is not negative")
    return range_root(subtree, 0, size) if size else EMPTY_ROOT


class _Nodes:
    """MTH of the ranges one proof needs, each in one look-up or from the right edge.

    Going down from the root, a proof asks for complete subtrees (one look-up each) and for
    ranges ``[start, size)`` along the right edge of an incomplete tree: those are suffixes of
    the size's split into complete subtrees, folded once from the right here, so a proof costs
    O(log n) look-ups and hashes rather than O(log² n)."""

    def __init__(self, subtree: SubtreeHash, size: int) -> None:
        self.subtree, self.size = subtree, size
        parts, start = [], 0
        while start < size:
            level = (size - start).bit_length() - 1
            parts.append((start, level))
            start += 1 << level
        self.edge: dict[int, bytes] = {}
        folded = b""
        for start, level in reversed(parts):
            hash = subtree(level, start >> level)
            folded = node_hash(hash, folded) if folded else hash
            self.edge[start] = folded

    def __call__(self, start: int, end: int) -> bytes:
        if end == self.size and start in self.edge:
            return self.edge[start]
        return range_root(self.subtree, start, end)


def inclusion_proof(subtree: SubtreeHash, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, the sibling nearest the leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    node = _Nodes(subtree, size)
    path: list[bytes] = []
    low, high = 0, size
    while high - low > 1:
        k = _split(high - low)
        if index < low + k:
            path.append(node(low + k, high))
            high = low + k
        else:
            path.append(node(low, low + k))
            low += k
    path.reverse()
    return path


def consistency_proof(subtree: SubtreeHash, old: int, new: int) -> list[bytes]:
    """PROOF(old, D[0:new]) of RFC 9162 §2.1.4.1 (empty when the sizes are equal).

    The empty tree is consistent with every tree and has no proof: ``old`` must be positive,
    as C2SP tlog-witness asks the client to send no proof lines for an old size of 0."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from {old} to {new} leaves")
    node = _Nodes(subtree, new)
    path: list[bytes] = []
    low, high, m, whole = 0, new, old, True
    while m != high - low:
        k = _split(high - low)
        if m <= k:
            path.append(node(low + k, high))
            high = low + k
        else:
            path.append(node(low, low + k))
            low, m, whole = low + k, m - k, False
    if not whole:
        path.append(node(low, high))
    path.reverse()
    return path


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2; raises :class:`InvalidProof` unless ``leaf`` (a leaf hash) is leaf
    ``index`` of the tree of ``size`` leaves whose root is ``root``."""
    if not 0 <= index < size:
        raise InvalidProof(f"leaf {index} is not in a tree of {size} leaves")
    if len(leaf) != HASH_SIZE or any(len(hash) != HASH_SIZE for hash in proof):
        raise InvalidProof("a hash is not 32 bytes long")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise InvalidProof("the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProof("the proof is shorter than the path to the root")
    if r != root:
        raise InvalidProof("the proof leads to another root")


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2; raises :class:`InvalidProof` unless the tree of ``new`` leaves with
    root ``new_root`` extends the tree of ``old`` leaves with root ``old_root``.

    An old size of 0 is refused, as transparency-dev/merkle does since 8c666a79 (a proof from
    the empty tree proves nothing): a witness handles ``old 0`` itself, as C2SP says."""
    if old <= 0 or old > new:
        raise InvalidProof(f"no consistency proof goes from {old} to {new} leaves")
    if old == new:
        if proof:
            raise InvalidProof("equal sizes take an empty proof")
        if old_root != new_root:
            raise InvalidProof("the same size with two different roots")
        return
    if not proof:
        raise InvalidProof("an empty proof between different sizes")
    if any(len(hash) != HASH_SIZE for hash in proof):
        raise InvalidProof("a hash is not 32 bytes long")
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProof("the proof is shorter than the path to the root")
    if fr != old_root:
        raise InvalidProof("the proof does not lead to the old root")
    if sr != new_root:
        raise InvalidProof("the proof does not lead to the new root")


class LevelStore:
    """Every complete subtree's hash, level by level, in memory: the shape a stored table of
    hashes takes, so proofs and benchmarks exercise the same look-ups as the database will.

    Appending a leaf completes at most one node per level (amortised two hashes a leaf)."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append_hash(self, hash: bytes) -> None:
        level = 0
        self.levels[0].append(hash)
        while len(self.levels[level]) % 2 == 0:
            below = self.levels[level]
            if level + 1 == len(self.levels):
                self.levels.append([])
            self.levels[level + 1].append(node_hash(below[-2], below[-1]))
            level += 1

    def extend(self, entries: Iterable[bytes]) -> None:
        for entry in entries:
            self.append_hash(leaf_hash(entry))

    def subtree(self, level: int, index: int) -> bytes:
        try:
            return self.levels[level][index]
        except IndexError:
            raise ValueError(f"no complete subtree ({level}, {index}) yet") from None

    def root(self, size: int | None = None) -> bytes:
        return root_hash(self.subtree, self.size if size is None else size)


_BLOCK = 1 << 12  # leaves hashed together, so that their hashes are paired while in cache


def tree_root(entries: Sequence[bytes]) -> bytes:
    """The root over ``entries`` hashed afresh: a full verification of a tree whose leaves one
    holds, with nothing to trust but the leaves.

    Blocks of 4,096 leaves are reduced to their subtree's root one at a time (their hashes
    still in the processor's cache), then the block roots are paired as any level is."""
    roots = [
        level_root(
            [hashlib.sha256(LEAF_PREFIX + entry).digest() for entry in entries[s : s + _BLOCK]]
        )
        for s in range(0, len(entries), _BLOCK)
    ]
    return level_root(roots) if roots else EMPTY_ROOT


def level_root(level: list[bytes]) -> bytes:
    """The root over one level's nodes: pairs hashed level by level, a lone right node promoted
    unchanged (RFC 6962's shape: the last node of a level may root an incomplete subtree)."""
    sha256 = hashlib.sha256
    while len(level) > 1:
        paired = [
            sha256(NODE_PREFIX + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]
