"""Small children that keep the child protocol, and a journal of what happened, for the tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka

from peppasync.exits import Exit, ExitListener

from supervisors import ChildSpec, SupervisedActor, SupervisorHooks, start_root

WAIT = 5.0


class Journal(SupervisorHooks):
    """Everything children and supervisors did, in order; tests wait on it instead of sleeping.

    It is the supervisors' hooks too, so one list holds both sides in order.
    """

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.refs: dict[str, pykka.ActorRef[Any]] = {}
        self._changed = threading.Condition()

    def add(self, *event: Any) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def of(self, name: str) -> list[tuple[Any, ...]]:
        return [e for e in self.events if e[0] == name]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise AssertionError(f"timed out; journal: {self.events}")

    def wait_count(self, name: str, count: int, timeout: float = WAIT) -> None:
        self.wait_for(lambda: len(self.of(name)) >= count, timeout)

    # -- hooks ---------------------------------------------------------------

    def on_child_started(self, supervisor: str, child_id: str, kind: str) -> None:
        self.add("started", supervisor, child_id)

    def on_child_exited(self, supervisor: str, child_id: str, kind: str, exit: Exit) -> None:
        self.add("exited", supervisor, child_id, exit.kind.value)

    def on_child_restarted(self, supervisor: str, child_id: str, kind: str, exit: Exit, delay: float) -> None:
        self.add("restarted", supervisor, child_id, delay)

    def on_escalated(self, supervisor: str, exit: Exit) -> None:
        self.add("escalated", supervisor, exit)


@dataclass(frozen=True)
class Crash:
    """Told to a worker: raise this error inside the handler of a tell."""

    error: BaseException


@dataclass(frozen=True)
class Finish:
    """Told to a worker: end normally."""


def crash(journal: Journal, child_id: str, error: BaseException | None = None) -> None:
    journal.refs[child_id].tell(Crash(error or RuntimeError(f"{child_id} crashed")))


class Worker(SupervisedActor):
    """Counts ``bump`` calls in memory (state a restart loses) and writes its life to a journal."""

    kind = "worker"

    def __init__(self, journal: Journal, name: str, fail_start: Callable[[], bool] = lambda: False) -> None:
        super().__init__()
        self.journal = journal
        self.name = name
        self.count = 0
        self._fail_start = fail_start

    def on_start(self) -> None:
        if self._fail_start():
            raise RuntimeError(f"{self.name} cannot start")
        self.journal.refs[self.name] = self.actor_ref
        self.journal.add("start", self.name)

    def on_stop(self) -> None:
        self.journal.add("stop", self.name)

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self.journal.add("crash", self.name)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise message.error
        if isinstance(message, Finish):
            self.finish()
        return None

    def bump(self) -> int:
        self.count += 1
        return self.count


def bump(journal: Journal, child_id: str) -> int:
    return journal.refs[child_id].proxy().bump().get(timeout=WAIT)


class BareChild(pykka.ThreadingActor):
    """A plain pykka actor keeping the protocol by hand: it reports its own end."""

    def __init__(self, on_exit: ExitListener) -> None:
        super().__init__()
        self._on_exit = on_exit

    def on_stop(self) -> None:
        self._on_exit(Exit.shutdown())

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self._on_exit(Exit.failure(exception_value))

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise message.error
        return None


def workers(journal: Journal, *names: str, **spec_options: Any) -> list[ChildSpec]:
    return [Worker.child_spec(name, journal, name, **spec_options) for name in names]


def supervise(journal: Journal, children: list[ChildSpec], **options: Any) -> pykka.ActorRef[Any]:
    """A root supervisor whose hooks and give-up both write to the journal."""
    options.setdefault("hooks", journal)
    return start_root(children, on_give_up=lambda exit: journal.add("gave_up", exit), **options)


def which(supervisor: pykka.ActorRef[Any]) -> list[tuple[str, bool, int]]:
    return supervisor.proxy().which_children().get(timeout=WAIT)


def life(journal: Journal) -> list[str]:
    """What the children did, as 'start a', 'crash b', 'stop c'."""
    return [f"{e[0]} {e[1]}" for e in journal.events if e[0] in ("start", "stop", "crash")]
