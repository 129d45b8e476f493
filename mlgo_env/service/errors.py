"""The mapping between mlgo-env exceptions and gRPC status codes, used by both ends.

The server sends the exception's class name in the trailing metadata key ``mlgo-error``; the
client rebuilds the same exception from it, never from the message text.
"""

from __future__ import annotations

import grpc

from mlgo_env import errors

__all__ = ["ERROR_METADATA_KEY", "status_of", "exception_from"]

ERROR_METADATA_KEY = "mlgo-error"

_STATUS: dict[type[errors.MlgoEnvError], grpc.StatusCode] = {
    errors.BenchmarkNotFound: grpc.StatusCode.NOT_FOUND,
    errors.SessionNotFound: grpc.StatusCode.NOT_FOUND,
    errors.InvalidAction: grpc.StatusCode.INVALID_ARGUMENT,
    errors.InvalidPolicy: grpc.StatusCode.INVALID_ARGUMENT,
    errors.EpisodeOver: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ToolNotFound: grpc.StatusCode.FAILED_PRECONDITION,
    errors.CorpusError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.CompilerTimeout: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.CompilerCrashed: grpc.StatusCode.INTERNAL,
    errors.ProtocolError: grpc.StatusCode.INTERNAL,
    errors.CompilerError: grpc.StatusCode.INTERNAL,
    errors.ValidationFailed: grpc.StatusCode.FAILED_PRECONDITION,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.ServiceBusy: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.ServiceUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.ServiceError: grpc.StatusCode.INTERNAL,
}

_CLASSES: dict[str, type[errors.MlgoEnvError]] = {cls.__name__: cls for cls in (*_STATUS, errors.MlgoEnvError)}


def status_of(exc: BaseException) -> grpc.StatusCode:
    """The status code for `exc` (the most specific class that matches)."""
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]  # type: ignore[index]
    if isinstance(exc, ValueError | KeyError | TypeError):
        return grpc.StatusCode.INVALID_ARGUMENT
    return grpc.StatusCode.INTERNAL


def error_name(exc: BaseException) -> str:
    """The class name the client will rebuild (falls back to the nearest known base)."""
    for cls in type(exc).__mro__:
        if cls.__name__ in _CLASSES:
            return cls.__name__
    return "InvalidArgument" if isinstance(exc, ValueError | KeyError | TypeError) else "ServiceError"


def exception_from(name: str, message: str, code: grpc.StatusCode) -> errors.MlgoEnvError | ValueError:
    """The exception a client raises for an error reply."""
    if name == "InvalidArgument":
        return ValueError(message)
    cls = _CLASSES.get(name)
    if cls is not None:
        return cls(message)  # a CompilerError's message already holds the compiler's stderr
    if code == grpc.StatusCode.UNAVAILABLE:
        return errors.ServiceUnavailable(message)
    return errors.ServiceError(f"{code.name}: {message}")
