"""gevent.Timeout and GreenletExit are BaseExceptions: in pykka's loop they would stop every actor.

Supervised children and supervisors turn them into ordinary failures of the
one actor they hit.
"""

from typing import Any

import gevent
import pykka
import pytest
from greenlet import GreenletExit

from peppasync.exits import ExitListener

from supervisors import ChildSpec, HandlerInterruptedError, RestartIntensity, SupervisorHooks

from .doubles import WAIT, Crash, Worker, bump, crash, supervise, which, workers

ROOMY = RestartIntensity(max_restarts=10, period=5.0)


@pytest.mark.parametrize(
    "interruption", [gevent.Timeout(1), GreenletExit()], ids=["timeout", "greenlet_exit"]
)
def test_an_interruption_inside_a_tell_restarts_that_child_and_stops_nothing_else(
    journal, clock, interruption
):
    root = supervise(journal, workers(journal, "a", "b"), intensity=ROOMY, clock=clock)
    bystander = Worker.start(journal, "bystander")
    bump(journal, "b")

    crash(journal, "a", interruption)
    journal.wait_count("restarted", 1)

    assert which(root) == [("a", True, 1), ("b", True, 0)]
    assert bump(journal, "b") == 2
    assert bystander.proxy().bump().get(timeout=WAIT) == 1
    assert journal.of("exited") == [("exited", "root", "a", "failure")]


def test_an_interruption_inside_an_ask_goes_back_to_the_caller_and_the_actor_lives_on(journal, clock):
    supervise(journal, workers(journal, "a"), clock=clock)

    with pytest.raises(HandlerInterruptedError) as raised:
        journal.refs["a"].ask(Crash(gevent.Timeout(1)), timeout=WAIT)

    assert isinstance(raised.value.interruption, gevent.Timeout)
    assert bump(journal, "a") == 1


def test_a_start_that_raises_an_interruption_counts_as_a_failed_start(journal, clock):
    attempts = []

    def start(on_exit: ExitListener) -> pykka.ActorRef[Any]:
        attempts.append(on_exit)
        if len(attempts) == 1:
            raise gevent.Timeout(5)
        return Worker.start_supervised(on_exit, journal, "late")

    root = supervise(
        journal, [ChildSpec("late", start), *workers(journal, "b")], intensity=ROOMY, clock=clock
    )
    journal.wait_count("restarted", 1)

    assert which(root) == [("late", True, 1), ("b", True, 0)]


def test_an_on_start_that_raises_an_interruption_fails_only_that_start(journal):
    class Stuck(Worker):
        def on_start(self) -> None:
            raise gevent.Timeout(5)

    bystander = Worker.start(journal, "bystander")

    with pytest.raises(HandlerInterruptedError):
        Stuck.start_supervised(lambda exit: None, journal, "stuck")

    assert bystander.proxy().bump().get(timeout=WAIT) == 1


def test_a_hook_that_raises_an_interruption_does_not_break_supervision(journal, clock):
    class Broken(SupervisorHooks):
        def on_child_exited(self, supervisor: str, child_id: str, kind: str, exit: Any) -> None:
            raise gevent.Timeout(1)

    root = supervise(journal, workers(journal, "a"), hooks=[Broken(), journal], intensity=ROOMY, clock=clock)

    crash(journal, "a")
    journal.wait_count("restarted", 1)

    assert which(root) == [("a", True, 1)]
    assert root.is_alive()
