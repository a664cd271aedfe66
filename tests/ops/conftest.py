"""Operations tests reuse fixtures of the delivery and ingestion tests."""

from __future__ import annotations

from tests.delivery.conftest import world  # noqa: F401 - a connected sandbox page
from tests.inbox.conftest import pages  # noqa: F401 - fixture pages with their channels
