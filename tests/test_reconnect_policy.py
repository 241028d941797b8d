"""ReconnectPolicy: which closes to recover from, the backoff between attempts, when to give up."""

from __future__ import annotations

import pytest

from agent_rt.errors import ConfigurationError, ConnectionClosedError, HandshakeError
from agent_rt.reconnect import RECOVERABLE_CLOSE_CODES, ReconnectPolicy, coerce_policy, is_session_limit

CAP_REASON = "Your session hit the maximum duration of 60 minutes."


def test_the_recoverable_codes_are_the_ones_the_service_uses() -> None:
    assert {1001, 1005, 1006, 1011, 1012, 1013, 1015} == RECOVERABLE_CLOSE_CODES


@pytest.mark.parametrize("code", sorted(RECOVERABLE_CLOSE_CODES))
def test_recoverable_codes_reconnect(code: int) -> None:
    assert ReconnectPolicy().should_reconnect(code, "")


@pytest.mark.parametrize("code", [None, 1000, 1002, 1003, 1007, 1008, 1009, 1010, 1014, 4000, 4001])
def test_other_codes_do_not(code: int | None) -> None:
    assert not ReconnectPolicy().should_reconnect(code, "")


def test_the_session_cap_is_recognised_by_code_and_reason() -> None:
    assert is_session_limit(1001, CAP_REASON)
    assert is_session_limit(1001, "Your session hit the maximum duration of 30 minutes.")
    assert not is_session_limit(1001, "going away")
    assert not is_session_limit(1011, CAP_REASON)


def test_the_session_cap_can_be_left_alone_while_other_1001s_still_reconnect() -> None:
    policy = ReconnectPolicy(reconnect_at_session_limit=False)
    assert not policy.should_reconnect(1001, CAP_REASON)
    assert policy.should_reconnect(1001, "server shutting down")


def test_close_codes_can_be_narrowed() -> None:
    policy = ReconnectPolicy(close_codes={1006})
    assert policy.should_reconnect(1006)
    assert not policy.should_reconnect(1011)


def test_backoff_doubles_up_to_the_cap_without_jitter() -> None:
    policy = ReconnectPolicy(initial_delay=0.5, max_delay=6.0, multiplier=2.0, jitter=0.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 6.0, 6.0]


def test_jitter_only_shortens_the_delay_within_its_fraction() -> None:
    low = ReconnectPolicy(initial_delay=1.0, jitter=0.5, random=lambda: 0.0)
    high = ReconnectPolicy(initial_delay=1.0, jitter=0.5, random=lambda: 0.999999)
    assert low.delay(3) == 4.0
    assert high.delay(3) == pytest.approx(2.0, abs=1e-5)
    spread = {ReconnectPolicy(jitter=1.0).delay(2) for _ in range(50)}
    assert len(spread) > 1  # real jitter: attempts of many clients do not line up
    assert all(0.0 <= value <= 1.0 for value in spread)


def test_a_huge_attempt_number_stays_at_the_cap() -> None:
    assert ReconnectPolicy(max_delay=3.0, jitter=0.0).delay(10_000) == 3.0


def test_after_the_session_cap_the_first_attempt_is_immediate_then_backoff_starts() -> None:
    policy = ReconnectPolicy(initial_delay=0.5, jitter=0.0)
    assert policy.delay(1, immediate=True) == 0.0
    assert policy.delay(2, immediate=True) == 0.5
    assert policy.delay(3, immediate=True) == 1.0


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        ReconnectPolicy().delay(0)


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (HandshakeError("refused", status=401), False),
        (HandshakeError("refused", status=403), False),
        (HandshakeError("refused", status=404), False),
        (HandshakeError("refused", status=400), False),
        (HandshakeError("slow down", status=429), True),
        (HandshakeError("unavailable", status=503), True),
        (HandshakeError("could not connect to 127.0.0.1:1"), True),
        (TimeoutError(), True),
        (ConnectionClosedError("closed", code=1011), True),
        (ConnectionClosedError("closed", code=4000, reason="beta_api_shape_disabled"), False),
        (ConnectionClosedError("closed", code=1008), False),
    ],
)
def test_which_failed_attempts_may_be_retried(error: BaseException, retry: bool) -> None:
    assert ReconnectPolicy().can_retry_after(error) is retry


@pytest.mark.parametrize(
    "options",
    [
        {"max_attempts": 0},
        {"max_attempts": 1.5},
        {"initial_delay": -1},
        {"max_delay": "1"},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"jitter": -0.1},
        {"attempt_timeout": 0},
        {"stable_after": -1},
    ],
)
def test_bad_settings_are_configuration_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        ReconnectPolicy(**options)  # type: ignore[arg-type]


def test_the_client_option_accepts_bools_and_policies_only() -> None:
    assert coerce_policy(False) is None
    assert coerce_policy(None) is None
    assert coerce_policy(True) == ReconnectPolicy()
    policy = ReconnectPolicy(max_attempts=2)
    assert coerce_policy(policy) is policy
    with pytest.raises(ConfigurationError, match="ReconnectPolicy"):
        coerce_policy("yes")  # type: ignore[arg-type]
