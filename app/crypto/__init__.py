"""Field-level envelope encryption of every nominative value.

Key hierarchy::

    keyring (KEKs + blind-index key)      a KeyProvider: local file, or a mounted secret
      └── one data key per case (DEK)     AES-256, stored only wrapped by the active KEK
            └── each nominative field     AES-256-GCM, bound to table/column/row/DEK version

Destroying a case's wrapped DEK destroys every ciphertext of that case (crypto-shredding),
backups included once they age out. Rotating the KEK re-wraps DEKs; field ciphertexts do not
change. Duplicate detection uses an HMAC-SHA256 blind index with its own key.
"""
