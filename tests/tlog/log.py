"""A test log for the witness tests: leaves in a level store, a checkpoint signer, and the
add-checkpoint request bodies a log sends (proofs from the tree, not from the witness)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.audit import merkle
from app.audit.note import Checkpoint, NoteSigner


class TestLog:
    __test__ = False  # not a test class, whatever its name

    def __init__(self, origin: str = "cenomed.test/audit", leaves: int = 0) -> None:
        self.signer = NoteSigner(origin, Ed25519PrivateKey.generate())
        self.tree = merkle.LevelStore()
        self.add(leaves)

    @property
    def origin(self) -> str:
        return self.signer.name

    def add(self, count: int) -> None:
        start = self.tree.size
        self.tree.extend(f"event {i}".encode() for i in range(start, start + count))

    def body(self, size: int, root: bytes | None = None) -> str:
        return Checkpoint(self.origin, size, root or self.tree.root(size)).text()

    def checkpoint(self, size: int, root: bytes | None = None) -> str:
        return self.signer.sign(self.body(size, root))

    def proof(self, old: int, new: int) -> list[bytes]:
        return merkle.consistency_proof(self.tree.subtree, old, new) if 0 < old else []


def request(old: int, proof: list[bytes], checkpoint: str) -> bytes:
    lines = [f"old {old}", *(base64.b64encode(hash).decode() for hash in proof)]
    return ("\n".join(lines) + "\n\n" + checkpoint).encode()
