"""The event loop of a command run, stopped for good by Ctrl-C (``runtime.run_async``).

``asyncio.run`` answers the first Ctrl-C by cancelling the main task once. On Python 3.11 that
one cancellation can be lost: ``asyncio.wait_for`` returns the result instead of raising when
the step it waits for completes in the same loop iteration (a connection accepted just as the
key is pressed), and the run then carries on until its timeouts, a minute later. Here a Ctrl-C
cancels the main task and keeps cancelling it, every ``_AGAIN`` seconds, until it has stopped;
the run then raises ``KeyboardInterrupt``, which ``cli/entry.py`` turns into exit 130 and one
line. A second Ctrl-C raises ``KeyboardInterrupt`` at once, as with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

#: Seconds between two cancellations of a task that went on after Ctrl-C.
_AGAIN = 0.2


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, except that Ctrl-C always ends it with ``KeyboardInterrupt``."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        return asyncio.run(coro)  # someone else owns Ctrl-C here (a test, an embedding program)
    interrupts = 0
    task: asyncio.Task[T] | None = None

    async def main() -> T:
        nonlocal task
        task = asyncio.current_task()
        return await coro

    with asyncio.Runner() as runner:
        loop = runner.get_loop()

        def cancel() -> None:
            if task is not None and not task.done():
                task.cancel()
                loop.call_later(_AGAIN, cancel)

        def on_sigint(_signum: int, _frame: FrameType | None) -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts > 1:
                raise KeyboardInterrupt
            loop.call_soon_threadsafe(cancel)

        signal.signal(signal.SIGINT, on_sigint)
        try:
            result = runner.run(main())
        except asyncio.CancelledError:
            if interrupts:
                raise KeyboardInterrupt from None
            raise
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    if interrupts:
        raise KeyboardInterrupt  # the run ended anyway, but the user asked it to stop
    return result
