"""Run an operation generator over a concrete transport, in a thread or on an event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost._core.steps import Op, StoreStep
from airflow_provider_oktopost._core.wire import ApiRequest, ApiResponse, Sleep, TransportFailure
from airflow_provider_oktopost.exceptions import OktopostError

#: The result of the operation a driver runs.
T = TypeVar("T")
Send = Callable[[ApiRequest], ApiResponse | TransportFailure]
AsyncSend = Callable[[ApiRequest], Awaitable[ApiResponse | TransportFailure]]


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def scrub(error: OktopostError, secrets: tuple[str, ...]) -> OktopostError:
    """Remove any secret the server may have echoed back from the error's message, in place."""
    message = redact(error.message, secrets)
    if message != error.message:
        error.message = message
        error.args = (message,)
    return error


def run_sync(op: Op[T], send: Send, secrets: tuple[str, ...] = ()) -> T:
    """Drive ``op`` to completion, blocking the calling thread while it sleeps."""
    try:
        action = next(op)
        while True:
            if isinstance(action, Sleep):
                clock.sleep(action.seconds)
                action = op.send(None)
            elif isinstance(action, StoreStep):
                action = op.send(action.run())
            else:
                action = op.send(send(action))
    except StopIteration as stop:
        result: T = stop.value
        return result
    except OktopostError as error:
        raise scrub(error, secrets) from None
    finally:
        op.close()


async def run_async(op: Op[T], send: AsyncSend, secrets: tuple[str, ...] = ()) -> T:
    """Drive ``op`` to completion on the running event loop; sleeps are awaited, never blocking."""
    try:
        action = next(op)
        while True:
            if isinstance(action, Sleep):
                await clock.async_sleep(action.seconds)
                action = op.send(None)
            elif isinstance(action, StoreStep):
                # A store on disk or across the network must not hold the event loop: ask it in a thread.
                answer = await asyncio.to_thread(action.run) if action.blocking else action.run()
                action = op.send(answer)
            else:
                action = op.send(await send(action))
    except StopIteration as stop:
        result: T = stop.value
        return result
    except OktopostError as error:
        raise scrub(error, secrets) from None
    finally:
        op.close()
