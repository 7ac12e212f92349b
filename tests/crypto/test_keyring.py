"""Key providers: the local keyring file and the secret (environment or mounted file)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from app.crypto.keyring import (
    Keyring,
    KeyUnavailable,
    LocalKeyringProvider,
    SecretKeyringProvider,
    WrapIntegrityError,
    key_provider,
)

DATA_KEY = os.urandom(32)
CONTEXT = uuid.uuid4().bytes


def test_the_local_keyring_is_private_and_created_once(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"
    provider = LocalKeyringProvider.create(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    again = LocalKeyringProvider.create(path)
    assert again.active_key_id() == provider.active_key_id()
    assert again.index_key() == provider.index_key()


def test_a_keyring_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    LocalKeyringProvider.create(path)
    path.chmod(0o640)
    with pytest.raises(PermissionError, match="chmod 600"):
        LocalKeyringProvider(path)


def test_wrap_and_unwrap_bind_the_case(tmp_path: Path) -> None:
    provider = LocalKeyringProvider.create(tmp_path / "keyring.json")
    kek_id, wrapped = provider.wrap(DATA_KEY, context=CONTEXT)
    assert provider.unwrap(kek_id, wrapped, context=CONTEXT) == DATA_KEY
    assert DATA_KEY not in wrapped
    with pytest.raises(WrapIntegrityError):
        provider.unwrap(kek_id, wrapped, context=uuid.uuid4().bytes)
    tampered = bytes([wrapped[0] ^ 1]) + wrapped[1:]
    with pytest.raises(WrapIntegrityError):
        provider.unwrap(kek_id, tampered, context=CONTEXT)
    with pytest.raises(KeyUnavailable):
        provider.unwrap("kek-unknown", wrapped, context=CONTEXT)


def test_a_new_key_becomes_active_and_the_retired_one_still_unwraps(tmp_path: Path) -> None:
    provider = LocalKeyringProvider.create(tmp_path / "keyring.json")
    old_id, wrapped = provider.wrap(DATA_KEY, context=CONTEXT)
    new_id = provider.begin_rotation()
    assert provider.active_key_id() == new_id != old_id
    assert provider.retired_key_ids() == [old_id]
    assert provider.rotation_under_way()
    assert provider.unwrap(old_id, wrapped, context=CONTEXT) == DATA_KEY
    assert provider.wrap(DATA_KEY, context=CONTEXT)[0] == new_id
    provider.end_rotation()
    assert not provider.rotation_under_way()
    provider.destroy([old_id])
    assert provider.key_ids() == [new_id]
    with pytest.raises(KeyUnavailable):
        provider.unwrap(old_id, wrapped, context=CONTEXT)
    with pytest.raises(ValueError, match="active"):
        provider.destroy([new_id])


def test_concurrent_writers_of_the_keyring_lose_nothing(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "keyring.json"
    LocalKeyringProvider.create(path)
    writers = [LocalKeyringProvider(path) for _ in range(6)]
    created: list[str] = []
    barrier = threading.Barrier(len(writers))

    def add(provider: LocalKeyringProvider) -> None:
        barrier.wait()
        created.append(provider.begin_rotation())

    threads = [threading.Thread(target=add, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(created) <= set(LocalKeyringProvider(path).key_ids())
    assert len(LocalKeyringProvider(path).key_ids()) == 7
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name or p.name.startswith(".")] == []


def test_a_keyring_repr_shows_no_key() -> None:
    ring = Keyring.new()
    text = repr(ring)
    assert ring.active in text
    for key in [*ring.keks.values(), ring.index_key]:
        assert repr(key) not in text


def test_another_process_follows_a_rotation_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    service = LocalKeyringProvider.create(path)
    rotation = LocalKeyringProvider(path)
    new_id = rotation.begin_rotation()
    assert service.active_key_id() == new_id
    kek_id, wrapped = rotation.wrap(DATA_KEY, context=CONTEXT)
    assert service.unwrap(kek_id, wrapped, context=CONTEXT) == DATA_KEY


def test_the_secret_provider_reads_the_same_keyring_from_env_or_file(tmp_path: Path) -> None:
    ring = Keyring.new()
    secret_file = tmp_path / "mounted-secret.json"
    secret_file.write_text(ring.to_json())
    secret_file.chmod(0o400)
    from_env = key_provider(inline=ring.to_json(), secret_file=None, local_path=tmp_path / "x")
    from_file = key_provider(inline=None, secret_file=secret_file, local_path=tmp_path / "x")
    assert isinstance(from_env, SecretKeyringProvider)
    kek_id, wrapped = from_env.wrap(DATA_KEY, context=CONTEXT)
    assert from_file.unwrap(kek_id, wrapped, context=CONTEXT) == DATA_KEY
    assert from_env.index_key() == from_file.index_key() == ring.index_key


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '{"format": 2}',
        '{"format": 1, "active": "a", "index_key": "AAAA", "keys": {}}',
        '{"format": 1, "active": "a", "index_key": "AAAA", "keys": []}',
        "not json",
    ],
)
def test_a_malformed_keyring_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="keyring"):
        Keyring.from_json(text)


def test_a_mounted_secret_is_followed_when_it_changes(tmp_path: Path) -> None:
    ring = Keyring.new()
    secret = tmp_path / "secret.json"
    secret.write_text(ring.to_json())
    secret.chmod(0o600)
    provider = SecretKeyringProvider(path=secret)
    old = provider.active_key_id()
    new = ring.add_key()
    secret.write_text(ring.to_json())
    assert provider.active_key_id() == new != old
    secret.chmod(0o644)
    with pytest.raises(PermissionError):
        SecretKeyringProvider(path=secret)
