"""Quick calls answered on gRPC's polling thread, when a worker thread would only add hand-overs.

Python's gRPC server runs every call in its executor: the polling thread takes the
call, hands it to a worker, the worker asks for the request's bytes and waits until
the polling thread has read them, then answers. A get by id that the service answers
from its by-id cache takes about 25 µs of work; the two hand-overs around it, each a
wake-up of another thread and a turn of the interpreter lock, cost more than that
(0.46 against 0.56 ms for a whole call to a server that replays a 2 kB answer,
``bench/rpc_floor.py`` has the figures in the service's own terms).

So :class:`InlineFirstPool`, the server's executor, answers a call itself, on the
polling thread, when all of these hold:

- the handler is marked quick (:func:`quick`): a bounded read, no lock waits, no
  writes (the service marks its gets by id of nodes and types);
- no call is running in a worker: the polling thread is the server's only thread
  that takes new calls, so a quick call answered there delays nothing but calls
  that would have waited for it anyway, and a busy server keeps its workers;
- this gRPC release has the server internals the answer relies on (checked once,
  at import: :data:`SUPPORTED`); otherwise every call goes to a worker as before.

The call is then answered exactly as a worker answers it (the same function of
gRPC's, in the call's own context), only without the hand-overs: the polling
thread asks for the request's bytes and, when they have arrived, runs the handler
and sends the answer. ``MLINEAGE_GRPC_INLINE=0`` turns this off.
"""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from mlineage.api.metrics import QueueingThreadPool

#: The attribute that marks a handler as quick (see :func:`quick`).
QUICK_MARK = "_mlineage_quick"
#: The environment switch; "0", "false", "no" or "off" sends every call to a worker.
ENV = "MLINEAGE_GRPC_INLINE"


def quick(handler: Callable) -> Callable:
    """Mark a unary handler as quick: a bounded read that takes no lock and writes nothing."""
    setattr(handler, QUICK_MARK, True)
    return handler


def is_quick(handler: Any) -> bool:
    return getattr(handler, QUICK_MARK, False) is True


def carry_mark(inner: Callable, outer: Callable) -> Callable:
    """``outer`` (a wrapper of ``inner``, as an interceptor builds) is quick when ``inner`` is.

    The mark is an attribute of the function, so a wrapper that takes its handler's attributes
    (``functools.wraps``, as the authentication interceptor does, a layer below this one) keeps it too.
    """
    if is_quick(inner):
        quick(outer)
    return outer


def _internals() -> tuple[Any, ...] | None:
    """gRPC's server functions the inline answer uses, or None where this release differs."""
    try:
        from grpc import _server
        from grpc._cython import cygrpc

        parts = (
            _server._unary_response_in_pool,
            _server._receive_message,
            _server._is_rpc_state_active,
            _server._EMPTY_FLAGS,
            _server._RECEIVE_MESSAGE_TOKEN,
            cygrpc.ReceiveMessageOperation,
        )
        respond, receive = parts[0], parts[1]
        if list(inspect.signature(respond).parameters) != [
            "rpc_event", "state", "behavior", "argument_thunk", "request_deserializer", "response_serializer",
        ] or list(inspect.signature(receive).parameters) != ["state", "call", "request_deserializer"]:  # fmt: skip
            return None
        return parts
    except (ImportError, AttributeError, TypeError, ValueError):
        return None


_INTERNALS = _internals()
#: Whether this gRPC release lets a call be answered on the polling thread.
SUPPORTED = _INTERNALS is not None


def enabled_by_environment(environ: dict[str, str] | None = None, name: str = ENV) -> bool:
    """A server switch that is on unless the variable ``name`` says "0", "false", "no" or "off"."""
    value = (os.environ if environ is None else environ).get(name, "1")
    return value.strip().lower() not in ("0", "false", "no", "off")


class InlineFirstPool(QueueingThreadPool):
    """The gRPC server's executor: quick calls on the polling thread while no worker is busy (module notes)."""

    def __init__(self, max_workers: int | None = None, thread_name_prefix: str = "", *, inline: bool = True) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self.inline = inline and SUPPORTED
        self._running = 0  # calls handed to workers and not finished
        self._running_lock = threading.Lock()
        self.answered_inline = 0  # for the tests and the curious

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self.inline and not self._running and not kwargs and self._quick_unary(args):
            return self._answer_inline(fn, args)
        with self._running_lock:
            self._running += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished(None)
            raise
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: Future | None) -> None:
        with self._running_lock:
            self._running -= 1

    @staticmethod
    def _quick_unary(args: tuple[Any, ...]) -> bool:
        # gRPC submits a unary call as (_unary_response_in_pool, rpc_event, state, behavior, thunk, de, ser).
        assert _INTERNALS is not None
        return len(args) == 7 and args[0] is _INTERNALS[0] and is_quick(args[3])

    def _answer_inline(self, run: Callable[..., Any], args: tuple[Any, ...]) -> Future:
        """Ask for the request's bytes; when the polling thread has them, answer there (no worker)."""
        assert _INTERNALS is not None
        respond, receive_message, active, flags, token, receive_operation = _INTERNALS
        _, rpc_event, state, behavior, _thunk, deserializer, serializer = args
        done: Future = Future()
        receive = receive_message(state, rpc_event.call, deserializer)

        def received(event: Any) -> Any:
            try:
                outcome = receive(event)  # sets state.request (or closes or aborts the call)
                request, state.request = state.request, None
                if request is not None:
                    self.answered_inline += 1
                    run(respond, rpc_event, state, behavior, lambda: request, deserializer, serializer)
                return outcome
            finally:
                done.set_result(None)

        with state.condition:
            if not active(state):
                done.set_result(None)
                return done
            rpc_event.call.start_server_batch((receive_operation(flags),), received)
            state.due.add(token)
        return done
