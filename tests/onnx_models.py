"""Small ONNX policies built with onnx.helper, for the tests of uploaded policies (no torch needed)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FEATURE = "callee_basic_block_count"
"""An inlining feature, int64 of shape (1,)."""


def model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
    outputs: Sequence[onnx.ValueInfoProto] | None = None,
    opsets: Sequence[tuple[str, int]] = (("", 20),),
) -> onnx.ModelProto:
    outputs = outputs or [helper.make_tensor_value_info("action", TensorProto.INT64, [1])]
    graph = helper.make_graph(list(nodes), "policy", list(inputs), list(outputs), initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])


def feature(name: str = FEATURE, elem_type: int = TensorProto.INT64, shape: Sequence[int] = (1,)):
    return helper.make_tensor_value_info(name, elem_type, list(shape))


def inline_small_callees(name: str = FEATURE, elem_type: int = TensorProto.INT64, shape=(1,)) -> onnx.ModelProto:
    """Inline iff the callee has at most two basic blocks."""
    two = numpy_helper.from_array(np.full(shape, 2, helper.tensor_dtype_to_np_dtype(elem_type)), "two")
    nodes = [
        helper.make_node("LessOrEqual", [name, "two"], ["small"]),
        helper.make_node("Cast", ["small"], ["cast"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["cast", "one"], ["action"]),
    ]
    return model(nodes, [feature(name, elem_type, shape)], [two, numpy_helper.from_array(np.array([1]), "one")])
