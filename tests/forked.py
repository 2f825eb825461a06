"""Run a test's body in a forked child (SIGKILLs, rlimits, another user), the model shared."""

import os
import traceback
from collections.abc import Callable

import torch


def run_forked(body: Callable[[], int]) -> int:
    """Run `body` in a forked child and return the child's exit code: what `body` returns,
    1 (traceback printed) if it raised, or minus the signal that killed the child."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            torch.set_num_threads(1)  # the parent's OpenMP threads do not survive a fork
            code = body()
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
