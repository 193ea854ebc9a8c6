"""What the benchmark scripts share: child processes that never outlive the benchmark."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
from typing import NoReturn

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """For `subprocess.Popen(preexec_fn=...)`: on Linux the child gets SIGTERM when the benchmark dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the benchmark's own clean-up still stops it
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def exit_on_sigterm() -> None:
    """Turn SIGTERM (`kill`) into SystemExit, so `finally` blocks stop the children and remove temporary files."""

    def stop(_signum: int, _frame: object) -> NoReturn:
        sys.exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
