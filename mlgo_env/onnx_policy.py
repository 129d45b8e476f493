"""Policies as data: ONNX models, checked against a fixed allow-list, then run by onnxruntime.

A policy is an ONNX model whose inputs are features of the task's observation, each named, typed
and shaped exactly as LLVM declares it (a subset is fine), or one float32 input ``packed``: every
feature in the channel header's order (`mlgo_env.packed`), cheaper to call; its one output is the action:
one integer (inlining, eviction) or one float (priority). `OnnxPolicy` is the one runner, for
the service's ``Rollout`` and for local code alike. Before anything runs it refuses, with
`InvalidPolicy` naming the cause:

- a model over `PolicyLimits.max_bytes`, or that is not ONNX;
- tensors that keep their data in external files (a path the service would read);
- operator sets other than the default ``ai.onnx`` domain at opsets `OPSETS`, model-local
  functions, and any operator off `ALLOWED_OPS`: what an MLP policy needs (linear algebra,
  elementwise arithmetic and activations, comparisons, ``Where``, ``ArgMax``, reductions and
  shape plumbing). Left out on purpose: control flow (``If``, ``Loop``, ``Scan``), operators
  whose output shape depends on the data (``NonZero``, ``TopK``, ``Range``...), random numbers,
  sequences and strings, and costly kernels whose work is not counted (convolutions, ``Einsum``);
- a graph whose tensor shapes cannot all be inferred statically, or whose tensors together hold
  more than `PolicyLimits.max_elements` elements, or whose ``MatMul``/``Gemm`` nodes do more than
  `PolicyLimits.max_macs` multiply-accumulates: memory and work per decision are bounded before
  the first run (onnxruntime cannot interrupt a running kernel);
- inputs that are not features of the task, with another element type or shape, or an output
  that is not one action of the task's kind (`OnnxPolicy.check_inputs`, before the compile);
- a model slower than `PolicyLimits.decision_seconds` of CPU time on one decision: on a zero
  observation before the compile, then on every decision (the episode ends with the error).

onnxruntime runs it with one intra-op thread on the caller's thread, no spinning, the CPU
provider only, and its graph optimisations.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError
from onnx import helper, shape_inference

from mlgo_env.errors import InvalidPolicy
from mlgo_env.packed import PACKED_INPUT, PackedLayout
from mlgo_env.protocol import TensorSpec

__all__ = ["ALLOWED_OPS", "OPSETS", "OnnxPolicy", "PolicyLimits"]

OPSETS = range(13, 24)
"""Versions of the default ONNX operator set (``ai.onnx``) a policy may import: 13 to 23."""

ALLOWED_OPS = frozenset(
    {
        # shape plumbing and constants
        "Identity", "Constant", "Shape", "Cast", "CastLike", "Reshape", "Flatten", "Squeeze",
        "Unsqueeze", "Concat", "Slice", "Gather", "Transpose", "Expand",
        # linear algebra
        "MatMul", "Gemm",
        # elementwise arithmetic
        "Add", "Sub", "Mul", "Div", "Neg", "Abs", "Sign", "Sqrt", "Exp", "Log", "Pow", "Min", "Max",
        "Clip", "Floor", "Ceil",
        # activations
        "Relu", "LeakyRelu", "Elu", "Tanh", "Sigmoid", "Softmax", "LogSoftmax",
        # comparisons and selection
        "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Where",
        "IsNaN", "IsInf",
        # reductions
        "ArgMax", "ArgMin", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
    }
)  # fmt: skip
"""The operators of the default domain a policy may use (see the module docstring)."""

_DEFAULT_DOMAINS = ("", "ai.onnx")
_INTEGER_ACTIONS = (onnx.TensorProto.INT64, onnx.TensorProto.INT32)
_ACTION_TYPES = (*_INTEGER_ACTIONS, onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE)


@dataclass(frozen=True)
class PolicyLimits:
    """What one uploaded policy may cost the service.

    Attributes:
        max_bytes: size of the serialised model (a policy MLP takes kilobytes).
        max_nodes: nodes of the graph.
        max_elements: elements of all the graph's tensors together (16 MiB of float32).
        max_macs: multiply-accumulates of the ``MatMul``/``Gemm`` nodes on one decision.
        decision_seconds: CPU seconds one decision may take (policy MLPs take microseconds).
    """

    max_bytes: int = 1 << 20
    max_nodes: int = 10_000
    max_elements: int = 1 << 22
    max_macs: int = 1 << 24
    decision_seconds: float = 0.01


class OnnxPolicy:
    """A checked ONNX policy (see the module docstring), callable on one observation.

    Args:
        data: the serialised ONNX model.
        limits: the caps it must stay within.

    Raises:
        InvalidPolicy: the model breaks a rule; the message names which and how to fix it.
    """

    def __init__(self, data: bytes, limits: PolicyLimits | None = None) -> None:
        self.limits = limits or PolicyLimits()
        model = _parse(data, self.limits)
        _check_operators(model, self.limits)
        try:
            onnx.checker.check_model(model)
        except onnx.checker.ValidationError as exc:
            raise InvalidPolicy(f"not a valid ONNX model: {exc}") from exc
        self.inputs = _input_specs(model)
        self._output = model.graph.output[0]
        _check_costs(model, self.limits)
        self._session = _session(data)
        self._checked = False
        self._layout: PackedLayout | None = None  # set by check_inputs for a packed model

    def check_inputs(self, features: Sequence[TensorSpec], advice: TensorSpec | None = None) -> None:
        """Refuse a model that does not fit the task, then time it once on a zero observation.

        Args:
            features: the task's observation tensors as the compiler declares them.
            advice: the task's action tensor (its kind must match the model's output).

        Raises:
            InvalidPolicy: an input the task does not send as declared, an output of the wrong
                kind, or a run over the time cap.
        """
        declared = {spec.name: spec for spec in features}
        if [spec.name for spec in self.inputs] == [PACKED_INPUT] and PACKED_INPUT not in declared:
            self._check_packed(self.inputs[0], features)
        for spec in self.inputs if self._layout is None else ():
            feature = declared.get(spec.name)
            if feature is None:
                raise InvalidPolicy(
                    f"the model's input {spec.name!r} is not a feature of the task; its features are "
                    f"{', '.join(sorted(declared))}"
                )
            if feature.dtype != spec.dtype or tuple(feature.shape) != spec.shape:
                raise InvalidPolicy(
                    f"the model's input {spec.name!r} is {spec.dtype} {list(spec.shape)} but the task sends "
                    f"{feature.dtype} {list(feature.shape)}: export the policy with the task's observation space"
                )
        output_type = self._output.type.tensor_type.elem_type
        if advice is not None and (advice.dtype.kind in "iu") != (output_type in _INTEGER_ACTIONS):
            raise InvalidPolicy(
                f"the model's output is {helper.tensor_dtype_to_np_dtype(output_type)} but the task's action is "
                f"{advice.dtype}"
            )
        self._checked = True
        zeros = {spec.name: np.zeros(spec.shape, spec.dtype) for spec in features}
        self._run(self._feeds(zeros))  # onnxruntime sets up on its first run: time the second
        self(zeros)

    def _check_packed(self, packed: TensorSpec, features: Sequence[TensorSpec]) -> None:
        """Refuse a packed input that is not the task's features packed (float32, their total size)."""
        layout = PackedLayout.of(features)
        if packed.dtype != np.float32 or packed.shape != (layout.size,):
            raise InvalidPolicy(
                f"the model's input {PACKED_INPUT!r} is {packed.dtype} {list(packed.shape)} but the task's features "
                f"packed are float32 [{layout.size}]: export the policy with the task's observation space"
            )
        self._layout = layout

    def _feeds(self, observation: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The model's inputs from one observation: the packed vector, or the features it takes by name."""
        if self._layout is not None:
            return {PACKED_INPUT: self._layout.pack(observation)}
        return {spec.name: np.ascontiguousarray(observation[spec.name]) for spec in self.inputs}

    def __call__(self, observation: dict[str, np.ndarray]) -> int | float:
        """The action for one observation; raises `InvalidPolicy` past the time cap."""
        if not self._checked:
            self.check_inputs([TensorSpec(name, value.dtype, value.shape) for name, value in observation.items()])
        started = time.thread_time()  # the caller's thread runs the model: CPU time, whatever the load
        output = self._run(self._feeds(observation))
        seconds = time.thread_time() - started
        if seconds > self.limits.decision_seconds:
            raise InvalidPolicy(
                f"the model took {1e3 * seconds:.1f} ms of CPU on one decision, over the cap of "
                f"{1e3 * self.limits.decision_seconds:.1f} ms"
            )
        value = output.reshape(-1)[0]
        return int(value) if np.issubdtype(value.dtype, np.integer) else float(value)

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The model's output on its inputs."""
        try:
            (output,) = self._session.run(None, feeds)
        except Exception as exc:  # onnxruntime raises its own exception classes
            raise InvalidPolicy(f"the model failed on an observation: {exc}") from exc
        return np.asarray(output)


def _parse(data: bytes, limits: PolicyLimits) -> onnx.ModelProto:
    """The model in `data`, refused when too large, not ONNX, or reaching outside itself."""
    if len(data) > limits.max_bytes:
        raise InvalidPolicy(f"the model is {len(data):,} bytes, over the cap of {limits.max_bytes:,} bytes")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except DecodeError as exc:
        raise InvalidPolicy(f"not an ONNX model: {exc}") from exc
    if not model.graph.node:
        raise InvalidPolicy("not an ONNX model: the graph has no node")
    for tensor in _tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
            location = next((e.value for e in tensor.external_data if e.key == "location"), "?")
            raise InvalidPolicy(
                f"tensor {tensor.name!r} keeps its data in an external file ({location!r}): the service takes "
                "self-contained models only (save with external data off)"
            )
    return model


def _tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    """Every tensor the model carries: initialisers and node attributes."""
    graph = model.graph
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            yield from ([attribute.t] if attribute.HasField("t") else [])
            yield from attribute.tensors
            if attribute.HasField("sparse_tensor"):
                yield attribute.sparse_tensor.values
                yield attribute.sparse_tensor.indices


def _check_operators(model: onnx.ModelProto, limits: PolicyLimits) -> None:
    """Refuse other operator sets, local functions, operators off the allow-list, too many nodes."""
    for opset in model.opset_import:
        if opset.domain not in _DEFAULT_DOMAINS:
            raise InvalidPolicy(f"operator set {opset.domain!r} is not allowed: only the default ONNX domain is")
        if opset.version not in OPSETS:
            raise InvalidPolicy(
                f"ONNX opset {opset.version} is not allowed: export with opset {OPSETS.start} to {OPSETS.stop - 1}"
            )
    if model.functions:
        raise InvalidPolicy("model-local functions are not allowed: export the policy with its functions inlined")
    if len(model.graph.node) > limits.max_nodes:
        raise InvalidPolicy(f"the graph has {len(model.graph.node):,} nodes, over the cap of {limits.max_nodes:,}")
    for node in model.graph.node:
        if node.domain not in _DEFAULT_DOMAINS or node.op_type not in ALLOWED_OPS:
            where = f"{node.domain}::" if node.domain else ""
            raise InvalidPolicy(
                f"operator {where}{node.op_type} (node {node.name!r}) is not on the allow-list of policy operators: "
                f"{', '.join(sorted(ALLOWED_OPS))}"
            )


def _input_specs(model: onnx.ModelProto) -> tuple[TensorSpec, ...]:
    """The model's inputs (those without an initialiser) as specs; one output with one element."""
    initialised = {tensor.name for tensor in model.graph.initializer}
    specs = []
    for value in model.graph.input:
        if value.name in initialised:
            continue
        shape = _static_shape(value)
        if shape is None or not value.type.tensor_type.elem_type:
            raise InvalidPolicy(f"the model's input {value.name!r} must be a tensor of fixed shape and element type")
        specs.append(TensorSpec(value.name, helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type), shape))
    if len(model.graph.output) != 1:
        raise InvalidPolicy(f"the model has {len(model.graph.output)} outputs; a policy has one: the action")
    return tuple(specs)


def _static_shape(value: onnx.ValueInfoProto) -> tuple[int, ...] | None:
    """The value's shape when every dimension is a known number, else None."""
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    dims = tensor.shape.dim
    if any(not d.HasField("dim_value") or d.dim_value < 0 for d in dims):
        return None
    return tuple(int(d.dim_value) for d in dims)


def _check_costs(model: onnx.ModelProto, limits: PolicyLimits) -> None:
    """Infer every tensor's shape; refuse unknown shapes, too many elements, too much MatMul work."""
    try:
        inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        raise InvalidPolicy(f"the model's shapes do not check: {exc}") from exc
    shapes: dict[str, tuple[int, ...] | None] = {}
    graph = inferred.graph
    for value in (*graph.input, *graph.value_info, *graph.output):
        shapes[value.name] = _static_shape(value)
    for tensor in graph.initializer:
        shapes[tensor.name] = tuple(tensor.dims)
    elements = sum(math.prod(shape) for shape in shapes.values() if shape is not None)
    macs = 0
    for node in graph.node:
        for name in node.output:
            if shapes.get(name) is None:
                raise InvalidPolicy(
                    f"the shape of {name!r} ({node.op_type} node {node.name!r}) cannot be inferred before it runs: "
                    "policies need fixed shapes"
                )
        macs += _macs(node, shapes)
    if elements > limits.max_elements:
        raise InvalidPolicy(f"the model's tensors hold {elements:,} elements, over the cap of {limits.max_elements:,}")
    if macs > limits.max_macs:
        raise InvalidPolicy(
            f"the model does {macs:,} multiply-accumulates per decision, over the cap of {limits.max_macs:,}"
        )
    output = _static_shape(graph.output[0])
    elem_type = graph.output[0].type.tensor_type.elem_type
    if output is None or math.prod(output) != 1 or elem_type not in _ACTION_TYPES:
        raise InvalidPolicy(
            f"the model's output {graph.output[0].name!r} must be one int64/int32/float/double element (the "
            f"action), not shape {output} of type {onnx.TensorProto.DataType.Name(elem_type)}"
        )


def _macs(node: onnx.NodeProto, shapes: dict[str, Any]) -> int:
    """Multiply-accumulates of a MatMul or Gemm node (0 for the others: their work is their size)."""
    if node.op_type not in ("MatMul", "Gemm"):
        return 0
    a = shapes.get(node.input[0])
    if not a:
        return 0
    transposed = node.op_type == "Gemm" and any(x.name == "transA" and x.i for x in node.attribute)
    inner = a[0] if transposed else a[-1]
    return math.prod(shapes[node.output[0]]) * inner


def _session(data: bytes) -> ort.InferenceSession:
    """An onnxruntime session on the caller's thread: one intra-op thread, no spinning, CPU only."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception classes
        raise InvalidPolicy(f"onnxruntime cannot load the model: {exc}") from exc
