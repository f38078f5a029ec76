"""Progress lines of the long commands (check, release, deploy): one line per step with the elapsed time.

The CLI builds one :class:`Progress` from the environment (plain lines, GitHub ``::group::`` blocks or GitLab
collapsible sections) and hands it to the stage; the stage only names its steps. Lines go to stderr, so the
command's own output on stdout stays clean. The seconds each step took are kept in ``timings``.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

HEARTBEAT_SECONDS = 30.0
STYLES = ("plain", "github", "gitlab")


class Step:
    """A running step; ``detail`` replaces the default ``done in N s`` of its closing line."""

    def __init__(self, name: str):
        self.name = name
        self.detail: str | None = None

    def done(self, detail: str) -> None:
        """Say what the step found (e.g. ``3 passed``) on its closing line."""
        self.detail = detail


class Progress:
    """Prints each step's start and end with the time elapsed since the command started, and heartbeats."""

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        style: str = "plain",
        quiet: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ):
        if style not in STYLES:
            raise ValueError(f"progress style {style!r}, expected one of {', '.join(STYLES)}")
        self.stream = stream
        self.style = style
        self.quiet = quiet
        self.clock = clock
        self.wall_clock = wall_clock
        self.heartbeat_seconds = heartbeat_seconds
        self.started = clock()
        self.timings: dict[str, float] = {}
        self.failed_step: str | None = None
        self._sections = 0
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls, env: Mapping[str, str], *, quiet: bool = False) -> Progress:
        """The style of the platform detected in ``env``: GitHub groups, GitLab sections, else plain."""
        from mlops_actions.platforms import detect_platform

        return cls.for_platform(detect_platform(env).name, quiet=quiet)

    @classmethod
    def for_platform(cls, name: str, *, quiet: bool = False) -> Progress:
        """The style of the platform called ``name`` (github, gitlab), plain for any other."""
        return cls(style=name if name in STYLES else "plain", quiet=quiet)

    @classmethod
    def silent(cls) -> Progress:
        """A progress that prints nothing and still records timings (library callers, tests)."""
        return cls(quiet=True)

    def elapsed(self) -> float:
        return self.clock() - self.started

    def line(self, text: str) -> None:
        """One progress line, prefixed by the elapsed time: ``[  2.1s] text``."""
        self._write(f"[{self.elapsed():5.1f}s] {text}")

    def _write(self, text: str) -> None:
        if self.quiet:
            return
        stream = self.stream if self.stream is not None else sys.stderr
        with self._lock:
            stream.write(text + "\n")
            stream.flush()

    def _open(self, name: str) -> str | None:
        if self.style == "github":
            self._write(f"::group::{_one_line(name)}")
        elif self.style == "gitlab":
            self._sections += 1
            section = f"mlops_{self._sections}_{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}"
            self._write(
                f"\x1b[0Ksection_start:{int(self.wall_clock())}:{section}[collapsed=true]\r\x1b[0K{_one_line(name)}"
            )
            return section
        return None

    def _close(self, section: str | None) -> None:
        if self.style == "github":
            self._write("::endgroup::")
        elif section is not None:
            self._write(f"\x1b[0Ksection_end:{int(self.wall_clock())}:{section}\r\x1b[0K")

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        """Announce ``name``, run the block, then say how it ended; a heartbeat while it runs long."""
        step = Step(name)
        section = self._open(name)
        self.line(f"{name}...")
        begun = self.clock()
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(name, begun, stop), daemon=True)
        if not self.quiet:
            beat.start()
        try:
            yield step
        except BaseException:
            seconds = self.clock() - begun
            self.timings[name] = self.timings.get(name, 0.0) + seconds
            self.failed_step = name
            stop.set()
            self.line(f"{name}: failed after {seconds:.1f} s")
            self._close(section)
            raise
        stop.set()
        seconds = self.clock() - begun
        self.timings[name] = self.timings.get(name, 0.0) + seconds
        self.line(f"{name}: {step.detail}" if step.detail else f"{name}: done in {seconds:.1f} s")
        self._close(section)

    def _heartbeat(self, name: str, begun: float, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_seconds):
            self.line(f"{name}: still running ({self.clock() - begun:.0f} s)")


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)
