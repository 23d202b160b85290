"""Configuration is checked where it is written: a bad spec or option says what was wrong."""

from typing import Any

import pytest

from supervisors import ChildSpec, start_root

from .doubles import supervise, workers


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"id": ""}, ValueError, "a child spec needs a non-empty string id, got ''"),
        ({"start": "Worker"}, TypeError, "child 'w': start must be a callable taking on_exit"),
        ({"restart": "permanent"}, TypeError, "child 'w': restart must be a RestartType"),
        ({"shutdown": -1}, ValueError, "child 'w': shutdown must be a number of seconds >= 0"),
        ({"kind": ""}, ValueError, "child 'w': kind must be a non-empty label, got ''"),
    ],
)
def test_a_bad_child_spec_is_refused_with_what_was_wrong(kwargs, error, message):
    arguments: dict[str, Any] = {"id": "w", "start": lambda on_exit: None, **kwargs}

    with pytest.raises(error) as raised:
        ChildSpec(**arguments)

    assert str(raised.value).startswith(message)


def test_a_supervisor_refuses_two_children_with_one_id(journal):
    with pytest.raises(ValueError, match=r"supervisor 'root': child ids must be unique, repeated: \['a'\]"):
        supervise(journal, workers(journal, "a", "b", "a"))


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"name": ""}, ValueError, "a supervisor needs a non-empty name, got ''"),
        ({"strategy": "one_for_one"}, TypeError, "supervisor 'root': strategy must be a RestartStrategy"),
        ({"intensity": (1, 5)}, TypeError, "supervisor 'root': intensity must be a RestartIntensity"),
        ({"backoff": 2.0}, TypeError, "supervisor 'root': backoff must be a peppasync.backoff.Backoff"),
        ({"hooks": [print]}, TypeError, "a supervisor hook must be a SupervisorHooks"),
    ],
)
def test_a_badly_configured_supervisor_is_refused_with_what_was_wrong(journal, options, error, message):
    with pytest.raises(error) as raised:
        supervise(journal, [], **({"name": "root"} | options))

    assert str(raised.value).startswith(message)


def test_the_root_needs_something_to_call_when_it_gives_up():
    with pytest.raises(TypeError, match="on_give_up must be a callable taking an Exit, got None"):
        start_root([], on_give_up=None)  # type: ignore[arg-type]
