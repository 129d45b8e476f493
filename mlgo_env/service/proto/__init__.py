"""The service's wire types, re-exported so nothing imports ``*_pb2`` modules directly."""

from mlgo_env.service.proto import mlgo_service_pb2 as pb
from mlgo_env.service.proto import mlgo_service_pb2_grpc as pb_grpc

__all__ = ["pb", "pb_grpc"]
