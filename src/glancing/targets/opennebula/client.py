# Copyright 2026 The glancing authors. Licensed under the Apache License, Version 2.0.
"""The only module calling pyone (OpenNebula's official XML-RPC binding): each call named, its
refusal turned into an ``errors.OneError`` of oned's code, read-only calls retried through the
one RetryPolicy when the endpoint did not answer, every request bounded in time."""

from __future__ import annotations

import logging
import xmlrpc.client
from typing import Any, Callable, Dict, Optional

import pyone
import requests
from pyone.server_xrpc import RequestsTransport

from glancing.retry import RetryPolicy
from glancing.targets.opennebula import errors

log = logging.getLogger(__name__)

# Calls that change nothing: sending them again after a lost answer is safe.
_READ_ONLY = ("info",)
_CODES = {pyone.OneAuthenticationException: errors.AUTHENTICATION,
          pyone.OneAuthorizationException: errors.AUTHORIZATION,
          pyone.OneNoExistsException: errors.NO_EXISTS, pyone.OneActionException: errors.ACTION}


class _BoundedTransport(RequestsTransport):
    """pyone's transport with a timeout per request (pyone's own would set the process-wide socket
    default) and without the environment's proxies: the front-end is reached directly."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, host: str, handler: str, request_body: bytes, verbose: bool = False) -> Any:
        url = self._build_url(host, handler)
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(url, data=request_body, headers=self.headers, verify=self.https_verify,
                                    timeout=self.timeout)
        if response.status_code != 200:
            raise xmlrpc.client.ProtocolError(url, response.status_code, response.reason, dict(response.headers))
        return self.parse_response(response)


class OneClient:
    """``client.call("image.info", 15)`` -> pyone's answer; raises errors.OneError."""

    def __init__(self, endpoint: str, session: str, timeout: float = 60.0,
                 retry: RetryPolicy = RetryPolicy(retries=3, backoff=0.5)) -> None:
        self.endpoint, self.retry = endpoint, retry
        self.server = pyone.OneServer(endpoint, session=session)
        transport = _BoundedTransport(timeout)
        transport.set_https(endpoint.startswith("https"))
        transport.set_https_verify(True)
        # ServerProxy keeps its transport under a mangled name; pyone gives no other way to bound it.
        self.server._ServerProxy__transport = transport

    def call(self, method: str, *args: Any) -> Any:
        fn: Callable[[], Any] = lambda: self._once(method, args)
        if method.rsplit(".", 1)[-1] in _READ_ONLY:
            return self.retry.call(fn, lambda e: isinstance(e, errors.OneUnreachable), f"one.{method}")
        return fn()

    def _once(self, method: str, args: Any) -> Any:
        target: Any = self.server
        for part in method.split("."):
            target = getattr(target, part)
        name = f"one.{method}"
        try:
            return target(*args)
        except pyone.OneException as e:
            code = next((c for cls, c in _CODES.items() if isinstance(e, cls)), None)
            text = str(e).strip() or type(e).__name__
            raise errors.for_code(code)(f"OpenNebula refused {name}{_shown(method, args)}: {text}"
                                        f"{f' (error {code})' if code else ''}", code, name) from None
        except (requests.Timeout, TimeoutError) as e:
            raise errors.OneTimeout(f"OpenNebula did not answer {name} at {self.endpoint} in time: {e}",
                                    None, name) from None
        except (requests.RequestException, xmlrpc.client.ProtocolError, OSError) as e:
            raise errors.OneUnreachable(f"cannot reach OpenNebula at {self.endpoint} for {name}: {_reason(e)}",
                                        None, name) from None
        except (xmlrpc.client.ResponseError, ValueError) as e:
            raise errors.OneError(f"OpenNebula answered {name} with something unreadable: {e}", None, name) from None


def _shown(method: str, args: Any) -> str:
    """The object a call is about (``one.image.info 42``); pool calls take filters, not IDs."""
    first = args[0] if args else None
    return f" {first}" if isinstance(first, int) and "pool" not in method else ""


def _reason(e: BaseException) -> str:
    text = str(e)
    return text if len(text) < 200 else text[:200] + "..."


def read_template(obj: Any) -> Dict[str, str]:
    """A pyone TEMPLATE (an ordered dict, values possibly nested) as flat strings."""
    template: Optional[Dict[str, Any]] = getattr(obj, "TEMPLATE", None)
    return {str(k): v if isinstance(v, str) else str(v) for k, v in (template or {}).items()}
