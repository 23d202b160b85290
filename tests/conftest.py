from collections.abc import Iterator

import pytest

from actors import durable


@pytest.fixture(autouse=True)
def _replaced_states_stay_as_they_were() -> Iterator[None]:
    """A kind that declares ``replaces_state`` never changes the old state in place (checked per message)."""
    before = len(durable.CHANGED_IN_PLACE)
    yield
    assert durable.CHANGED_IN_PLACE[before:] == [], "handlers changed the state they promised to replace"
