from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.crypto.vault import Vault


def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


CurrentVault = Annotated[Vault, Depends(get_vault)]
