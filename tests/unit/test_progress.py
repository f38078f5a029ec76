"""Progress lines: one per step with the elapsed time, GitHub groups, GitLab sections, heartbeats, quiet."""

from __future__ import annotations

import io
import threading
import time

import pytest

from mlops_actions.progress import Progress


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def progress(style: str = "plain", **options: object) -> tuple[Progress, io.StringIO, FakeClock]:
    stream, clock = io.StringIO(), FakeClock()
    made = Progress(
        stream=stream,
        style=style,
        clock=clock,
        wall_clock=lambda: 1_700_000_000.5,
        heartbeat_seconds=3600,
        **options,  # type: ignore[arg-type]
    )
    return made, stream, clock


def two_steps(made: Progress, clock: FakeClock) -> None:
    clock.advance(0.4)
    with made.step("tests") as step:
        clock.advance(0.2)
        step.done("3 passed")
    with made.step("training candidate"):
        clock.advance(12.7)


def test_each_step_prints_its_start_and_its_end_with_the_elapsed_time_in_order() -> None:
    made, stream, clock = progress()
    two_steps(made, clock)
    assert stream.getvalue().splitlines() == [
        "[  0.4s] tests...",
        "[  0.6s] tests: 3 passed",
        "[  0.6s] training candidate...",
        "[ 13.3s] training candidate: done in 12.7 s",
    ]
    assert made.timings == pytest.approx({"tests": 0.2, "training candidate": 12.7})


def test_a_failing_step_says_so_is_remembered_as_the_failed_step_and_the_error_goes_on() -> None:
    made, stream, clock = progress()
    with pytest.raises(ValueError, match="boom"), made.step("scoring"):
        clock.advance(1.5)
        raise ValueError("boom")
    assert stream.getvalue().splitlines()[-1] == "[  1.5s] scoring: failed after 1.5 s"
    assert made.failed_step == "scoring"
    assert made.timings == pytest.approx({"scoring": 1.5})


def test_on_github_each_step_is_a_group() -> None:
    made, stream, clock = progress("github")
    two_steps(made, clock)
    assert stream.getvalue().splitlines() == [
        "::group::tests",
        "[  0.4s] tests...",
        "[  0.6s] tests: 3 passed",
        "::endgroup::",
        "::group::training candidate",
        "[  0.6s] training candidate...",
        "[ 13.3s] training candidate: done in 12.7 s",
        "::endgroup::",
    ]


def test_on_gitlab_each_step_is_a_collapsed_section_with_a_unique_name() -> None:
    made, stream, clock = progress("gitlab")
    two_steps(made, clock)
    assert stream.getvalue().split("\n")[:-1] == [
        "\x1b[0Ksection_start:1700000000:mlops_1_tests[collapsed=true]\r\x1b[0Ktests",
        "[  0.4s] tests...",
        "[  0.6s] tests: 3 passed",
        "\x1b[0Ksection_end:1700000000:mlops_1_tests\r\x1b[0K",
        "\x1b[0Ksection_start:1700000000:mlops_2_training_candidate[collapsed=true]\r\x1b[0Ktraining candidate",
        "[  0.6s] training candidate...",
        "[ 13.3s] training candidate: done in 12.7 s",
        "\x1b[0Ksection_end:1700000000:mlops_2_training_candidate\r\x1b[0K",
    ]


def test_a_failed_step_still_closes_its_group() -> None:
    made, stream, _clock = progress("github")
    with pytest.raises(RuntimeError), made.step("bootstrap"):
        raise RuntimeError("stop")
    assert stream.getvalue().splitlines()[-1] == "::endgroup::"


def test_a_long_step_prints_a_heartbeat_every_interval() -> None:
    stream = io.StringIO()
    made = Progress(stream=stream, heartbeat_seconds=0.05)
    beats = threading.Event()
    with made.step("training candidate"):
        deadline = time.monotonic() + 5
        while stream.getvalue().count("still running") < 2 and time.monotonic() < deadline:
            beats.wait(0.01)
    lines = stream.getvalue().splitlines()
    running = [line for line in lines if "training candidate: still running" in line]
    assert len(running) >= 2, lines
    assert lines[0].endswith("training candidate...") and "done in" in lines[-1]
    settled = stream.getvalue()
    time.sleep(0.2)  # no heartbeat after the step ended
    assert stream.getvalue() == settled


def test_quiet_prints_nothing_not_even_heartbeats_but_keeps_the_timings() -> None:
    stream = io.StringIO()
    made = Progress(stream=stream, style="github", quiet=True, heartbeat_seconds=0.01)
    with made.step("tests"):
        time.sleep(0.05)
    assert stream.getvalue() == ""
    assert set(made.timings) == {"tests"}


@pytest.mark.parametrize(
    ("env", "style"),
    [
        ({"GITHUB_ACTIONS": "true"}, "github"),
        ({"GITLAB_CI": "true"}, "gitlab"),
        ({"GITHUB_ACTIONS": "false", "CI": "true"}, "plain"),
        ({}, "plain"),
    ],
    ids=["github-actions", "gitlab-ci", "other-ci", "a-terminal"],
)
def test_the_style_is_decided_from_the_environment(env: dict[str, str], style: str) -> None:
    assert Progress.from_environment(env).style == style


def test_an_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="progress style 'fancy'"):
        Progress(style="fancy")
