from collections.abc import Iterator

import pytest
from gevent import monkey

from actors import durable


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run unpatched: servers and simulators would block each other and the run would hang."""
    if not monkey.is_module_patched("socket"):
        raise pytest.UsageError(
            "the tests run under gevent's monkey patching, as the server does; run them with scripts/test "
            "(it patches before pytest starts and takes pytest's arguments), not with pytest alone")


@pytest.fixture(autouse=True)
def _replaced_states_stay_as_they_were() -> Iterator[None]:
    """A kind that declares ``replaces_state`` never changes the old state in place (checked per message)."""
    before = len(durable.CHANGED_IN_PLACE)
    yield
    assert durable.CHANGED_IN_PLACE[before:] == [], "handlers changed the state they promised to replace"
