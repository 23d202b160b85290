import pykka
import pytest

from peppasync.clock import ManualClock

from supervisors import ManualScheduler

from .doubles import Journal


@pytest.fixture(autouse=True)
def no_actor_outlives_its_test():
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=10)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def scheduler(clock: ManualClock) -> ManualScheduler:
    return ManualScheduler(clock)


@pytest.fixture
def journal() -> Journal:
    return Journal()
