"""CompanyStore: state and rules (to be filled in)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend


class CompanyStore:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def dump(self) -> dict[str, Any]:
        return {}
