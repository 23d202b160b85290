"""A pykka actor base that keeps the child protocol, so supervisors can watch it.

The protocol (``ChildSpec``): ``start(on_exit)`` returns only once the actor
has started, raising if it could not; the actor then calls ``on_exit`` exactly
once, after its last cleanup, with ``Exit.normal()`` (it called ``finish``),
``Exit.shutdown()`` (it was stopped) or ``Exit.failure(error)`` (it crashed).

It also closes pykka's worst trap: a ``gevent.Timeout`` or ``GreenletExit``
escaping a handler would reach pykka's loop as a BaseException and stop every
actor in the process. Here it becomes a ``HandlerInterruptedError`` that stops
only this actor, as any crash does, and its supervisor restarts it.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, ClassVar

import gevent
import pykka
from greenlet import GreenletExit

from peppasync.exits import Exit, ExitListener

from .errors import HandlerInterruptedError
from .spec import ChildSpec, RestartType

__all__ = ["SupervisedActor"]

log = logging.getLogger("peppasync.supervisors")

_INTERRUPTIONS = (gevent.Timeout, GreenletExit)


class SupervisedActor(pykka.ThreadingActor):
    """Base of actors started by a supervisor; subclass it as any ``pykka.ThreadingActor``."""

    kind: ClassVar[str] = "worker"
    """The bounded label its child specs carry for metrics."""

    # The supervision tree, not interpreter exit, stops these actors in order.
    # And CPython scans every live non-daemon thread each time one starts or
    # ends (threading._maintain_shutdown_locks): under gevent that makes
    # starting n actors O(n**2), minutes at 100,000.
    use_daemon_thread = True

    in_pykka_registry: ClassVar[bool] = False
    """Whether ``start_supervised`` lists the actor in ``pykka.ActorRegistry`` by default.

    The registry is a list: every stop scans it, so 100,000 registered children
    would cost O(n) each. A supervisor keeps its own dict of children and stops
    them itself. Only a tree's root is registered (``start_root``), so that
    ``ActorRegistry.stop_all()`` stops each tree from the top, in order.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._exit_listener: ExitListener | None = None
        self._outcome: Exit | None = None
        self._exit_reported = False
        self._startup: pykka.ThreadingFuture[None] = pykka.ThreadingFuture()

    # -- starting under a supervisor ----------------------------------------

    @classmethod
    def start_supervised(
        cls,
        on_exit: ExitListener,
        /,
        *args: Any,
        start_timeout: float | None = 30.0,
        register: bool | None = None,
        **kwargs: Any,
    ) -> pykka.ActorRef[Any]:
        """Start an actor, wait until its ``on_start`` is done, and report its end to ``on_exit``.

        Raises what ``on_start`` raised (a ``gevent.Timeout`` as a
        ``HandlerInterruptedError``), or ``pykka.Timeout`` after
        ``start_timeout`` seconds, in which case the actor is asked to stop.
        ``register`` overrides ``in_pykka_registry``.
        """
        actor = cls(*args, **kwargs)
        actor._exit_listener = on_exit
        if cls.in_pykka_registry if register is None else register:
            pykka.ActorRegistry.register(actor.actor_ref)
        actor._start_actor_loop()
        try:
            actor._startup.get(timeout=start_timeout)
        except pykka.Timeout:
            actor.actor_ref.stop(block=False)
            raise
        return actor.actor_ref

    @classmethod
    def child_spec(
        cls,
        id: str,
        *args: Any,
        restart: RestartType = RestartType.PERMANENT,
        shutdown: float = 5.0,
        kind: str | None = None,
        start_timeout: float | None = 30.0,
        **kwargs: Any,
    ) -> ChildSpec:
        """A child spec that starts this class with ``args`` and ``kwargs``."""

        def start(on_exit: ExitListener) -> pykka.ActorRef[Any]:
            return cls.start_supervised(on_exit, *args, start_timeout=start_timeout, **kwargs)

        return ChildSpec(id, start, restart=restart, shutdown=shutdown, kind=kind or cls.kind)

    # -- what subclasses use -------------------------------------------------

    def finish(self) -> None:
        """End this actor normally once the messages already queued are handled."""
        if self._outcome is None:
            self._outcome = Exit.normal()
        self.actor_ref.stop(block=False)

    # -- pykka's loop, guarded ------------------------------------------------
    # These override pykka 4's loop steps (setup.cfg pins pykka below 5); the
    # tests in tests/supervisors/test_interruptions.py pin the behaviour.

    def _actor_loop_setup(self) -> None:
        try:
            self.on_start()
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                self._startup.set_exception((type(exc), exc, exc.__traceback__))
                raise
            error = _ordinary(exc)
            self._outcome = Exit.failure(error, f"failed to start: {error!r}")
            self._handle_failure(type(error), error, error.__traceback__)
            self._startup.set_exception((type(error), error, error.__traceback__))
        else:
            self._startup.set(None)

    def _handle_receive(self, message: Any) -> Any:
        try:
            return super()._handle_receive(message)
        except _INTERRUPTIONS as exc:
            raise HandlerInterruptedError(exc) from exc

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._outcome is None or not self._outcome.abnormal:
            self._outcome = Exit.failure(exception_value)
        super()._handle_failure(exception_type, exception_value, traceback)

    def _actor_loop_teardown(self) -> None:
        # Report last, after on_stop/on_failure cleaned up, so a restarted
        # incarnation never overlaps the old one's cleanup.
        try:
            super()._actor_loop_teardown()
        finally:
            self._report_exit(self._outcome or Exit.shutdown())

    def _report_exit(self, exit: Exit) -> None:
        if self._exit_reported or self._exit_listener is None:
            return
        self._exit_reported = True
        try:
            self._exit_listener(exit)
        except (Exception, *_INTERRUPTIONS):
            log.exception("exit listener failed", extra={"actor": str(self)})


def _ordinary(exc: BaseException) -> Exception:
    if isinstance(exc, Exception):
        return exc
    wrapped = HandlerInterruptedError(exc)
    wrapped.__cause__ = exc
    return wrapped
