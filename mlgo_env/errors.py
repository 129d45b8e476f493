"""The exceptions mlgo-env raises: one root class, one subclass per cause, each saying how to fix it."""

from __future__ import annotations

__all__ = [
    "MlgoEnvError",
    "ToolNotFound",
    "BenchmarkNotFound",
    "CorpusError",
    "InvalidAction",
    "InvalidPolicy",
    "EpisodeOver",
    "CompilerError",
    "CompilerCrashed",
    "CompilerTimeout",
    "ProtocolError",
    "ServiceError",
    "ServiceUnavailable",
    "ServiceBusy",
    "SessionNotFound",
    "PermissionDenied",
    "ValidationFailed",
]


class MlgoEnvError(Exception):
    """Root of every error mlgo-env raises on purpose."""


class ToolNotFound(MlgoEnvError):
    """A required LLVM (or other) tool is not installed; the message names the package."""


class BenchmarkNotFound(MlgoEnvError, KeyError):
    """The benchmark id is not in the service's corpus."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the plain message.
        return str(self.args[0]) if self.args else ""


class CorpusError(MlgoEnvError):
    """A corpus on disk is malformed (missing description, bitcode or command file)."""


class InvalidAction(MlgoEnvError, ValueError):
    """The action is outside the action space or masked out for this decision."""


class InvalidPolicy(MlgoEnvError, ValueError):
    """The policy cannot run on this task, or an uploaded ONNX model breaks a rule of `mlgo_env.onnx_policy`."""


class EpisodeOver(MlgoEnvError):
    """`step()` was called after the episode ended; call `reset()` first."""


class CompilerError(MlgoEnvError):
    """The compiler failed; `stderr` holds what it printed."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message + (f"\n--- compiler stderr ---\n{stderr.strip()}" if stderr else ""))
        self.stderr = stderr


class CompilerCrashed(CompilerError):
    """The compiler exited with an error or a signal before the episode finished."""


class CompilerTimeout(CompilerError):
    """The compiler did not answer (or did not exit) within the timeout and was killed."""


class ProtocolError(CompilerError):
    """The compiler wrote something the MLGO interactive protocol does not allow."""


class ServiceError(MlgoEnvError):
    """The compiler service reported an internal error."""


class ServiceUnavailable(ServiceError):
    """The compiler service cannot be reached (not started, killed, or wrong address)."""


class ServiceBusy(ServiceError):
    """The service already runs as many sessions as it allows; try again later, backing off."""


class SessionNotFound(ServiceError):
    """The session is unknown to the service (ended, timed out, or the service restarted)."""


class PermissionDenied(ServiceError):
    """The service refused the request or the connection (a missing or wrong token, no TLS beyond loopback)."""


class ValidationFailed(MlgoEnvError):
    """The compiled program did not produce its reference output."""
