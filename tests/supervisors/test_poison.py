import gevent
import pytest

from peppasync.backoff import Backoff
from peppasync.errors import ConnectorError, PermanentError, TransientError, ValidationError
from peppasync.exits import Verdict
from peppasync.retry import RetryPolicy

from supervisors import PoisonPolicy

NOW = 1_700_000_000.0


def _policy(max_attempts: int = 5) -> PoisonPolicy:
    backoff = Backoff(base=2.0, cap=60.0, jitter=0.0)
    return PoisonPolicy(RetryPolicy(max_attempts=max_attempts, backoff=backoff))


def test_a_validation_error_is_quarantined_at_once_with_its_reason():
    verdict = _policy().decide(1, ValidationError("no line items", field="line_items"), NOW)

    assert verdict == Verdict.poison("validation")


def test_a_permanent_error_without_a_reason_of_its_own_says_permanent():
    class Refused(PermanentError):
        reason = ""

    assert _policy().decide(1, Refused("no"), NOW) == Verdict.poison("permanent")


def test_a_failure_retries_after_the_backoff_for_its_attempt():
    policy = _policy()

    first = policy.decide(1, RuntimeError("reset by peer"), NOW)
    third = policy.decide(3, RuntimeError("reset by peer"), NOW)

    assert first == Verdict.retry(NOW + 2.0)
    assert third == Verdict.retry(NOW + 8.0)


def test_the_last_allowed_attempt_is_quarantined_as_max_attempts():
    policy = _policy(max_attempts=3)

    assert not policy.decide(2, RuntimeError("flaky"), NOW).quarantine
    assert policy.decide(3, RuntimeError("flaky"), NOW) == Verdict.poison("max_attempts")


def test_a_transient_error_is_never_retried_sooner_than_its_retry_after():
    verdict = _policy().decide(1, TransientError("429", retry_after=30.0), NOW)

    assert verdict == Verdict.retry(NOW + 30.0)


def test_a_short_retry_after_does_not_shorten_the_backoff():
    verdict = _policy().decide(3, TransientError("429", retry_after=1.0), NOW)

    assert verdict == Verdict.retry(NOW + 8.0)


def test_a_connector_error_retry_after_is_honoured_too():
    error = ConnectorError("throttled", connector="netsuite", status=429, transient=True, retry_after=12.5)

    assert _policy().decide(1, error, NOW) == Verdict.retry(NOW + 12.5)


def test_an_interrupted_handler_is_retried_like_any_failure():
    verdict = _policy().decide(1, gevent.Timeout(3), NOW)

    assert verdict == Verdict.retry(NOW + 2.0)


def test_the_permanent_errors_can_be_chosen():
    constant = Backoff(base=1.0, cap=1.0, jitter=0.0)
    policy = PoisonPolicy(RetryPolicy(max_attempts=5, backoff=constant), permanent=(KeyError,))

    assert policy.decide(1, KeyError("sku"), NOW) == Verdict.poison("permanent")
    assert policy.decide(1, ValidationError("bad"), NOW) == Verdict.retry(NOW + 1.0)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"retry": 5},
            TypeError,
            "retry must be a peppasync.retry.RetryPolicy (e.g. RetryPolicy(max_attempts=5)), got 5",
        ),
        (
            {"permanent": ("ValidationError",)},
            ValueError,
            "permanent must list exception classes, got ['ValidationError']",
        ),
    ],
)
def test_a_bad_policy_is_refused_with_what_was_wrong(kwargs, error, message):
    arguments = {"retry": RetryPolicy(max_attempts=3), **kwargs}

    with pytest.raises(error) as raised:
        PoisonPolicy(**arguments)

    assert str(raised.value) == message


def test_attempts_count_from_one():
    with pytest.raises(ValueError, match="attempts counts the failed attempts from 1, got 0"):
        _policy().decide(0, RuntimeError("x"), NOW)
