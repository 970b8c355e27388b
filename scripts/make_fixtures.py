#!/usr/bin/env python3
"""Generate the ONNX test fixtures for twinverify.

Run from the repository root:

    python3 scripts/make_fixtures.py

This writes into tests/fixtures/:

* small float32 ONNX models (valid ones) covering the exporter idioms and the
  operators the importer must understand (PyTorch shape sub-graphs, TF NHWC
  transposes, Conv/BatchNorm/Pad/pooling variants, misc no-op style ops);
* twin networks (an original plus pruned / quantised / renamed copies) and
  CSV data sets labelled by the original network;
* manifest.json: one entry per valid model with its input shape, output size,
  operator list, idiom and onnxruntime reference outputs (float32);
* bad/: inputs the importer must reject, documented in bad/README.txt;
* README.md: a table describing every fixture.

The script is deterministic (fixed seeds, single-threaded onnxruntime with graph
optimisations disabled), and every file it writes is committed to the
repository, so the Rust tests never need Python.  Only onnx, numpy and
onnxruntime are used.
"""
from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

SEED = 20240601
IR_VERSION = 8  # ONNX 1.10 era, so older runtimes still load the files
F32 = np.float32
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures"
BAD = OUT / "bad"
N_REFERENCE = 4


def rng_for(key: str) -> np.random.Generator:
    """A stable RNG per key, so editing one model leaves all the others unchanged."""
    return np.random.default_rng([SEED, zlib.crc32(key.encode())])


# --- Graph builder ---
class Graph:
    """Minimal sequential-style builder over onnx.helper.

    Every method appends node(s) and returns the name of the produced tensor.
    """

    def __init__(self, name: str, input_shape, opset: int = 13, input_name: str = "input"):
        self.name, self.opset = name, opset
        self.rng = rng_for(name)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self._counts: dict[str, int] = {}
        self.x = self.add_input(input_name, input_shape)

    def add_input(self, name: str, shape) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        return name

    def fresh(self, base: str) -> str:
        k = self._counts.get(base, 0)
        self._counts[base] = k + 1
        return f"{base}_{k}"

    def op(self, op_type: str, inputs, name: str | None = None, **attrs) -> str:
        name = name or self.fresh(op_type)
        out = f"{name}_out"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=name, **attrs))
        return out

    # -- constants ---------------------------------------------------------- #
    def init(self, base: str, array) -> str:
        """Add an initializer; returns its name."""
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, base: str, values) -> str:
        return self.init(base, np.array(values, np.int64))

    def const(self, value, dtype=np.int64) -> str:
        """A Constant node (as the PyTorch exporter emits), not an initializer."""
        name = self.fresh("Constant")
        tensor = numpy_helper.from_array(np.asarray(value, dtype), f"{name}_value")
        return self.op("Constant", [], name=name, value=tensor)

    def weight(self, shape, fan_in: int, scale: float = 1.0) -> str:
        """N(0, 0.5^2) scaled by sqrt(8 / fan_in) (He scaling: std = sqrt(2 / fan_in)), times `scale`."""
        w = self.rng.normal(0.0, 0.5, shape) * np.sqrt(8.0 / fan_in)
        if scale != 1.0:
            w = w * scale
        return self.init("W", w.astype(F32))

    def bias(self, n: int) -> str:
        return self.init("B", self.rng.normal(0.0, 0.2, n).astype(F32))

    # -- layers ------------------------------------------------------------- #
    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def gemm(self, x: str, n_in: int, n_out: int, trans_b=True, alpha=1.0, beta=1.0, scale=1.0) -> str:
        w = self.weight((n_out, n_in) if trans_b else (n_in, n_out), n_in, scale)
        attrs = {"transB": 1} if trans_b else {}
        if alpha != 1.0:
            attrs["alpha"] = alpha
        if beta != 1.0:
            attrs["beta"] = beta
        return self.op("Gemm", [x, w, self.bias(n_out)], **attrs)

    def matmul_add(self, x: str, n_in: int, n_out: int) -> str:
        h = self.op("MatMul", [x, self.weight((n_in, n_out), n_in)])
        return self.op("Add", [h, self.bias(n_out)])

    def conv(self, x: str, c_in: int, c_out: int, k: int, group: int = 1, scale: float = 1.0, **attrs) -> str:
        w = self.weight((c_out, c_in // group, k, k), c_in // group * k * k, scale)
        if group != 1:
            attrs["group"] = group
        return self.op("Conv", [x, w, self.bias(c_out)], kernel_shape=[k, k], **attrs)

    def batchnorm(self, x: str, c: int, epsilon: float) -> str:
        r = self.rng
        params = [r.uniform(0.5, 1.5, c), r.normal(0.0, 0.2, c), r.normal(0.0, 0.2, c), r.uniform(0.5, 2.0, c)]
        names = [self.init(n, p.astype(F32)) for n, p in zip(["scale", "bn_B", "mean", "var"], params)]
        return self.op("BatchNormalization", [x, *names], epsilon=epsilon)

    def axes_op(self, op_type: str, x: str, axes) -> str:
        """Unsqueeze/Squeeze: axes are an attribute before opset 13 and an input from 13 on."""
        if self.opset >= 13:
            return self.op(op_type, [x, self.ints("axes", axes)])
        return self.op(op_type, [x], axes=list(axes))

    def unsqueeze(self, x: str, axes) -> str:
        return self.axes_op("Unsqueeze", x, axes)

    # -- PyTorch exporter shape idioms -------------------------------------- #
    def dim(self, shape: str, i: int) -> str:
        """Gather(Shape(x), i): the scalar x.size(i)."""
        return self.op("Gather", [shape, self.const(i)], axis=0)

    def torch_flatten(self, x: str, rank: int | None = None) -> str:
        """x.view(x.size(0), -1); with rank given, x.view(x.size(0), x.size(1) * ... )."""
        shape = self.op("Shape", [x])
        batch = self.unsqueeze(self.dim(shape, 0), [0])
        if rank is None:
            rest = self.const([-1])
        else:
            prod = self.dim(shape, 1)
            for i in range(2, rank):
                prod = self.op("Mul", [prod, self.dim(shape, i)])
            rest = self.unsqueeze(prod, [0])
        return self.op("Reshape", [x, self.op("Concat", [batch, rest], axis=0)])

    def torch_expand(self, t: str, like: str) -> str:
        """t.expand(like.size(1), like.size(2), like.size(3)) as exported by PyTorch (opset 11)."""
        shape = self.op("Shape", [like])
        dims = [self.unsqueeze(self.dim(shape, i), [0]) for i in (1, 2, 3)]
        size = self.op("Reshape", [self.op("Concat", dims, axis=0), self.const([-1])])
        one = numpy_helper.from_array(np.array([1], np.int64), "one")
        ones = self.op("ConstantOfShape", [self.op("Shape", [size])], value=one)
        minus_ones = self.op("Mul", [ones, self.const(-1)])
        target = self.op("Where", [self.op("Equal", [size, minus_ones]), ones, size])
        return self.op("Expand", [t, target])

    # -- finishing ---------------------------------------------------------- #
    def _make(self, outputs) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, outputs, self.inits)
        return helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", self.opset)],
            ir_version=IR_VERSION,
            producer_name="twinverify-fixtures",
        )

    def shape_of(self, tensor: str) -> list[int]:
        """Static shape of an intermediate tensor, via ONNX shape inference."""
        inferred = onnx.shape_inference.infer_shapes(self._make([]), strict_mode=True)
        for vi in inferred.graph.value_info:
            if vi.name == tensor:
                return [d.dim_value for d in vi.type.tensor_type.shape.dim]
        raise KeyError(tensor)

    def model(self, out: str, out_shape, output_name: str = "output") -> onnx.ModelProto:
        for node in self.nodes:
            for i, o in enumerate(node.output):
                if o == out:
                    node.output[i] = output_name
        out_vi = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, out_shape)
        model = self._make([out_vi])
        onnx.checker.check_model(model, full_check=True)
        return model


# --- Valid models ---
def mlp_gemm() -> onnx.ModelProto:
    g = Graph("mlp_gemm", ["batch_size", 1, 4, 4], opset=11)
    h = g.torch_flatten(g.x)
    for n_in, n_out in [(16, 10), (10, 8)]:
        h = g.relu(g.gemm(h, n_in, n_out))
    h = g.op("Softmax", [g.gemm(h, 8, 3)], axis=1)
    return g.model(h, ["batch_size", 3])


def mlp_tf() -> onnx.ModelProto:
    g = Graph("mlp_tf", [1, 4, 4, 2], input_name="input_1")
    h = g.op("Transpose", [g.x], perm=[0, 3, 1, 2])  # NHWC -> NCHW
    h = g.relu(g.conv(h, 2, 3, 3, pads=[1, 1, 1, 1]))
    h = g.op("Transpose", [h], perm=[0, 2, 3, 1])  # NCHW -> NHWC
    h = g.op("Reshape", [h, g.ints("shape", [1, -1])])
    h = g.relu(g.matmul_add(h, 48, 6))
    return g.model(g.matmul_add(h, 6, 3), [1, 3])


def conv_ops() -> onnx.ModelProto:
    g = Graph("conv_ops", [1, 2, 7, 7])
    h = g.conv(g.x, 2, 4, 3, strides=[2, 2], pads=[1, 0, 1, 0], dilations=[1, 1])
    h = g.relu(g.batchnorm(h, 4, epsilon=1e-3))
    h = g.relu(g.conv(h, 4, 4, 2, group=2, dilations=[2, 2], pads=[1, 1, 1, 1]))
    h = g.op("Pad", [h, g.ints("pads", [0, 0, 1, 0, 0, 0, 0, 1])], mode="constant")
    h = g.op("AveragePool", [h], kernel_shape=[2, 2], strides=[1, 1], pads=[1, 1, 0, 0], count_include_pad=0)
    h = g.op("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1])
    h = g.op("Flatten", [h], axis=1)
    k = g.shape_of(h)[1]
    return g.model(g.gemm(h, k, 3, trans_b=False, alpha=0.5, beta=2.0), [1, 3])


def maxpool_net() -> onnx.ModelProto:
    g = Graph("maxpool_net", [1, 1, 8, 8])
    h = g.relu(g.conv(g.x, 1, 3, 3))  # 6x6
    h = g.op("MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)  # 3x3 (2x2 with floor)
    assert g.shape_of(h) == [1, 3, 3, 3]
    h = g.relu(g.conv(h, 3, 4, 2))
    h = g.op("Flatten", [h], axis=1)
    h = g.relu(g.gemm(h, g.shape_of(h)[1], 8))
    return g.model(g.gemm(h, 8, 3), [1, 3])


def normalize_net() -> onnx.ModelProto:
    g = Graph("normalize_net", [1, 1, 4, 4], opset=11)
    mean = g.const(np.full((1, 1, 1), 0.1307), F32)
    inv_std = g.const(np.full((1, 1, 1), 1.0 / 0.3081), F32)
    h = g.op("Sub", [g.x, g.torch_expand(mean, g.x)])
    h = g.op("Mul", [h, g.torch_expand(inv_std, g.x)])
    h = g.relu(g.conv(h, 1, 2, 2, strides=[2, 2]))
    h = g.torch_flatten(h, rank=4)
    h = g.relu(g.matmul_add(h, 8, 5))
    h = g.op("Div", [g.matmul_add(h, 5, 3), g.const(2.0, F32)])  # logits / temperature
    return g.model(g.torch_flatten(h), [1, 3])


def misc_ops() -> onnx.ModelProto:
    g = Graph("misc_ops", [1, 6])
    h = g.gemm(g.op("Identity", [g.x]), 6, 6)
    h = g.relu(g.op("Dropout", [h]))
    h = g.axes_op("Squeeze", g.unsqueeze(h, [1]), [1])
    h = g.op("Sub", [h, g.init("shift", g.rng.normal(0.0, 0.3, 6).astype(F32))])
    scale = g.rng.uniform(0.5, 2.0, 6) * g.rng.choice([-1.0, 1.0], 6)
    h = g.op("Div", [h, g.init("scale", scale.astype(F32))])
    return g.model(g.gemm(h, 6, 3, trans_b=False), [1, 3])


def center_logits(model: onnx.ModelProto) -> onnx.ModelProto:
    """Shift the final Gemm bias so each logit has mean 0 over uniform [0,1] inputs.

    Random nets on non-negative inputs tend to predict one class everywhere; centring
    gives the twin data sets a spread of labels.  Twin variants inherit this bias.
    """
    last = model.graph.node[-1]
    assert last.op_type == "Gemm"
    xs = rng_for(f"center:{model.graph.name}").uniform(0.0, 1.0, [256, *concrete_input_shape(model)[1:]])
    run = session(model)
    mean = np.mean([run(x[None].astype(F32))[0].ravel() for x in xs], axis=0)
    bias = next(i for i in model.graph.initializer if i.name == last.input[2])
    centred = (numpy_helper.to_array(bias) - mean).astype(F32)
    bias.CopyFrom(numpy_helper.from_array(centred, bias.name))
    onnx.checker.check_model(model, full_check=True)
    return model


def twin_mlp(name: str = "twin_mlp", n_in: int = 6) -> onnx.ModelProto:
    g = Graph(name, [1, n_in])
    h = g.relu(g.gemm(g.x, n_in, 12))
    h = g.relu(g.gemm(h, 12, 12))
    return center_logits(g.model(g.gemm(h, 12, 3), [1, 3]))


def tiny_2d() -> onnx.ModelProto:
    """2 inputs, two hidden layers of 4 ReLUs, 3 classes: small enough for brute force on a grid."""
    g = Graph("tiny_2d", [1, 2])
    h = g.relu(g.gemm(g.x, 2, 4))
    h = g.relu(g.gemm(h, 4, 4))
    return center_logits(g.model(g.gemm(h, 4, 3), [1, 3]))


def twin_conv() -> onnx.ModelProto:
    g = Graph("twin_conv", [1, 1, 6, 6])
    h = g.relu(g.conv(g.x, 1, 2, 3, pads=[1, 1, 1, 1], strides=[2, 2]))
    h = g.op("Flatten", [h], axis=1)
    h = g.relu(g.gemm(h, 18, 8))
    return center_logits(g.model(g.gemm(h, 8, 3), [1, 3]))


def twin_pool() -> onnx.ModelProto:
    g = Graph("twin_pool", [1, 1, 6, 6])
    h = g.relu(g.conv(g.x, 1, 2, 3))
    h = g.op("MaxPool", [h], kernel_shape=[2, 2], strides=[2, 2])
    h = g.op("Flatten", [h], axis=1)
    return center_logits(g.model(g.gemm(h, 8, 3), [1, 3]))


def sigmoid_mlp() -> onnx.ModelProto:
    """S-shaped activations: Gemm 4-10, Sigmoid, Gemm 10-10, Tanh, Gemm 10-3.  The hidden weights are
    scaled up (x1.5, x2) so that the pre-activations span about [-4, 4] on [0,1]^4: both the curved
    middle and the flat tails of Sigmoid and Tanh are reached."""
    g = Graph("sigmoid_mlp", [1, 4])
    h = g.op("Sigmoid", [g.gemm(g.x, 4, 10, scale=1.5)])
    h = g.op("Tanh", [g.gemm(h, 10, 10, scale=2.0)])
    return center_logits(g.model(g.gemm(h, 10, 3), [1, 3]))


def sigmoid_conv() -> onnx.ModelProto:
    """S-shaped activations after a conv: Conv 1->2 k3 (no pads, 6x6 -> 4x4), Sigmoid, Flatten,
    Gemm 32-6, Tanh, Gemm 6-3; conv and hidden weights scaled x2 (as in sigmoid_mlp)."""
    g = Graph("sigmoid_conv", [1, 1, 6, 6])
    h = g.op("Sigmoid", [g.conv(g.x, 1, 2, 3, scale=2.0)])
    h = g.op("Flatten", [h], axis=1)
    h = g.op("Tanh", [g.gemm(h, 32, 6, scale=2.0)])
    return center_logits(g.model(g.gemm(h, 6, 3), [1, 3]))


def reduce_ops() -> onnx.ModelProto:
    """Reductions of the activation: Conv 2->3 k3 pads 1, Relu, ReduceMean over the width (axes
    attribute, keepdims), Cast to float, ReduceSum over height and width (axes input, no keepdims),
    Concat with a constant [1, 2] in front, then Gemm 5-6-3."""
    g = Graph("reduce_ops", [1, 2, 4, 4])
    h = g.relu(g.conv(g.x, 2, 3, 3, pads=[1, 1, 1, 1]))
    h = g.op("ReduceMean", [h], axes=[3], keepdims=1)
    h = g.op("Cast", [h], to=TensorProto.FLOAT)
    h = g.op("ReduceSum", [h, g.ints("axes", [2, -1])], keepdims=0)
    h = g.op("Concat", [g.init("front", np.array([[0.5, -0.25]], F32)), h], axis=1)
    h = g.relu(g.gemm(h, 5, 6))
    return center_logits(g.model(g.gemm(h, 6, 3), [1, 3]))


def power_ops() -> onnx.ModelProto:
    """Powers of the activation: Gemm 4-6 (weights x0.5), Relu, Add 1 (so every base is >= 1),
    Mul by itself (x^2), Pow with per-entry exponents, Div of a constant by it (c/x), Pow of a
    constant base (1.5^x), Pow by itself (x^x), then Gemm 6-3."""
    g = Graph("power_ops", [1, 4])
    h = g.op("Add", [g.relu(g.gemm(g.x, 4, 6, scale=0.5)), g.init("one", np.array([1.0], F32))])
    h = g.op("Mul", [h, h])
    h = g.op("Pow", [h, g.init("exponents", np.array([[0.5, 1.5, 2.0, 3.0, -1.0, 0.25]], F32))])
    h = g.op("Div", [g.init("numerator", np.array([1.0], F32)), h])
    h = g.op("Pow", [g.init("base", np.array([1.5], F32)), h])
    h = g.op("Pow", [h, h])
    return center_logits(g.model(g.gemm(h, 6, 3), [1, 3]))


def step_ops() -> onnx.ModelProto:
    """Split and step functions of the activation: Gemm 4-8, Split [2, 6] on axis 1 (only the
    second part is used), Relu, Where(Equal(h, 0), -1, h), Mul 3, Cast to int64 and back
    (truncation), Where(LessOrEqual(t, 1), 0.5, t), then Gemm 6-3."""
    g = Graph("step_ops", [1, 4])
    h = g.gemm(g.x, 4, 8)
    split = g.fresh("Split")
    g.nodes.append(helper.make_node("Split", [h, g.ints("sizes", [2, 6])], [f"{split}_a", f"{split}_b"],
                                    name=split, axis=1))
    h = g.relu(f"{split}_b")
    h = g.op("Where", [g.op("Equal", [h, g.init("zero", np.array([0.0], F32))]),
                       g.init("minus_one", np.array([-1.0], F32)), h])
    h = g.op("Mul", [h, g.init("three", np.array([3.0], F32))])
    h = g.op("Cast", [g.op("Cast", [h], to=TensorProto.INT64)], to=TensorProto.FLOAT)
    h = g.op("Where", [g.op("LessOrEqual", [h, g.init("one", np.array([1.0], F32))]),
                       g.init("half", np.array([0.5], F32)), h])
    return center_logits(g.model(g.gemm(h, 6, 3), [1, 3]))


def step_bool() -> onnx.ModelProto:
    """Casts to bool of the activation: Gemm 3-5, Relu, Cast to bool and back to float (1 where
    the ReLU is active), Greater than a constant on the left (Less as ONNX reads it), cast to
    float, then Gemm 5-3."""
    g = Graph("step_bool", [1, 3])
    h = g.relu(g.gemm(g.x, 3, 5))
    h = g.op("Cast", [g.op("Cast", [h], to=TensorProto.BOOL)], to=TensorProto.FLOAT)
    h = g.op("Add", [h, g.init("noise", g.rng.uniform(-0.5, 0.5, 5).astype(F32))])
    h = g.op("Cast", [g.op("Greater", [g.init("level", np.array([0.6], F32)), h])], to=TensorProto.FLOAT)
    return center_logits(g.model(g.gemm(h, 5, 3), [1, 3]))


def softmax_ops() -> onnx.ModelProto:
    """Softmax inside the network: Gemm 4-6, Reshape [1, 2, 3], Softmax over the last axis (two
    groups of three), Reshape [1, 6], Gemm 6-3 (weights x3, so the probabilities matter)."""
    g = Graph("softmax_ops", [1, 4])
    h = g.op("Reshape", [g.gemm(g.x, 4, 6, scale=2.0), g.ints("shape", [1, 2, 3])])
    h = g.op("Reshape", [g.op("Softmax", [h], axis=-1), g.ints("flat", [1, 6])])
    return center_logits(g.model(g.gemm(h, 6, 3, scale=3.0), [1, 3]))


def product_ops() -> onnx.ModelProto:
    """Products of two parts of the activation: Gemm 4-6, Split [3, 3] (both parts used), Mul of the
    parts, Relu, Add 1 (every entry >= 1), Div of two overlapping Slices q = t[0:2] / t[1:3], Concat
    of q[1:2], a constant and q[0:1], Gemm 3-3."""
    g = Graph("product_ops", [1, 4])
    h = g.gemm(g.x, 4, 6)
    split = g.fresh("Split")
    g.nodes.append(helper.make_node("Split", [h, g.ints("sizes", [3, 3])], [f"{split}_a", f"{split}_b"],
                                    name=split, axis=1))
    h = g.op("Mul", [f"{split}_a", f"{split}_b"])
    t = g.op("Add", [g.relu(h), g.init("one", np.array([1.0], F32))])
    axes = g.ints("axes", [1])
    lo = g.op("Slice", [t, g.ints("s0", [0]), g.ints("e0", [2]), axes])
    hi = g.op("Slice", [t, g.ints("s1", [1]), g.ints("e1", [3]), axes])
    q = g.op("Div", [lo, hi])
    q1 = g.op("Slice", [q, g.ints("s2", [1]), g.ints("e2", [2]), axes])
    q0 = g.op("Slice", [q, g.ints("s3", [0]), g.ints("e3", [1]), axes])
    c = g.op("Concat", [q1, g.init("half", np.array([[0.5]], F32)), q0], axis=1)
    return center_logits(g.model(g.gemm(c, 3, 3), [1, 3]))


def residual_conv() -> onnx.ModelProto:
    """Two residual blocks: Conv 2->3 k3 pads 1 + Relu (x), then twice
    x = Relu(x + Conv(Relu(Conv(x)))) with 3->3 k3 pads 1 convolutions (weights x0.5), then Flatten
    and Gemm 48-3. The skip connections are carried past each block's layers."""
    g = Graph("residual_conv", [1, 2, 4, 4])
    x = g.relu(g.conv(g.x, 2, 3, 3, pads=[1, 1, 1, 1]))
    for _ in range(2):
        inner = g.conv(g.relu(g.conv(x, 3, 3, 3, scale=0.5, pads=[1, 1, 1, 1])), 3, 3, 3, scale=0.5, pads=[1, 1, 1, 1])
        x = g.relu(g.op("Add", [x, inner]))
    return center_logits(g.model(g.gemm(g.op("Flatten", [x], axis=1), 48, 3), [1, 3]))


def softmax_skip() -> onnx.ModelProto:
    """A value carried past a Softmax: Gemm 4-3 (weights x2) of Softmax(Gemm_a(x)) + Gemm_b(x), with
    Gemm_a, Gemm_b 4-5; x is carried past Gemm_a and the Softmax."""
    g = Graph("softmax_skip", [1, 4])
    probs = g.op("Softmax", [g.gemm(g.x, 4, 5, scale=2.0)], axis=1)
    return center_logits(g.model(g.gemm(g.op("Add", [probs, g.gemm(g.x, 4, 5)]), 5, 3, scale=2.0), [1, 3]))


def mask_ops() -> onnx.ModelProto:
    """Where with constant masks on live tensors: Gemm 4-6, Split [3, 3], Where(mask, a, b) taking
    entries from either part, Relu, Where(mask, constants, h), Gemm 3-3."""
    g = Graph("mask_ops", [1, 4])
    split = g.fresh("Split")
    g.nodes.append(helper.make_node("Split", [g.gemm(g.x, 4, 6), g.ints("sizes", [3, 3])],
                                    [f"{split}_a", f"{split}_b"], name=split, axis=1))
    mask = g.init("mask", np.array([[True, False, True]]))
    h = g.relu(g.op("Where", [mask, f"{split}_a", f"{split}_b"]))
    keep = g.init("keep", np.array([False, True, True]))
    h = g.op("Where", [keep, h, g.init("fill", np.array([0.25, -1.0, 2.0], F32))])
    return center_logits(g.model(g.gemm(h, 3, 3), [1, 3]))


def mio_net() -> onnx.ModelProto:
    """Two inputs and two outputs (VNN-LIB theories MIO and H): d = x1 - x2 (inputs [1, 2] each),
    h = Relu(Gemm 2-6 of d) named "hidden_relu", y1 = Gemm 6-3 of h, y2 = Gemm 6-2 of h."""
    g = Graph("mio_net", [1, 2], input_name="x1")
    x2 = g.add_input("x2", [1, 2])
    h = g.op("Relu", [g.gemm(g.op("Sub", [g.x, x2]), 2, 6)], name="hidden")
    y1, y2 = g.gemm(h, 6, 3), g.gemm(h, 6, 2)
    model = g.model(y1, [1, 3])
    model.graph.output.append(helper.make_tensor_value_info(y2, TensorProto.FLOAT, [1, 2]))
    for node in model.graph.node:
        node.output[:] = ["hidden_relu" if o == h else o for o in node.output]
        node.input[:] = ["hidden_relu" if i == h else i for i in node.input]
    onnx.checker.check_model(model, full_check=True)
    return model


# --- Two exports of one model (`twinverify equiv`) ---
def equiv_params() -> list[tuple[np.ndarray, np.ndarray]]:
    """The weights (n_out, n_in) and biases of the 6-12-12-3 MLP both exports compute."""
    rng = rng_for("equiv")
    dims = [6, 12, 12, 3]
    params = [((rng.normal(0.0, 0.5, (o, i)) * np.sqrt(8.0 / i)).astype(F32), rng.normal(0.0, 0.2, o).astype(F32))
              for i, o in zip(dims, dims[1:])]
    # centre the logits over uniform [0,1] inputs (as center_logits does), for a spread of labels
    h = rng.uniform(0.0, 1.0, (256, 6))
    for k, (w, b) in enumerate(params):
        h = h @ w.T.astype(np.float64) + b
        h = np.maximum(h, 0.0) if k + 1 < len(params) else h
    params[-1] = (params[-1][0], (params[-1][1] - h.mean(axis=0)).astype(F32))
    return params


def equiv_torch(name: str = "equiv_torch", weight_fn=lambda w: w) -> onnx.ModelProto:
    """PyTorch-style export: input [1,1,2,3], the x.view(x.size(0), -1) idiom, Gemm transB=1."""
    g = Graph(name, [1, 1, 2, 3], opset=11)
    h = g.torch_flatten(g.x)
    params = equiv_params()
    for k, (w, b) in enumerate(params):
        h = g.op("Gemm", [h, g.init("W", weight_fn(w)), g.init("B", b)], transB=1)
        h = g.relu(h) if k + 1 < len(params) else h
    return g.model(h, [1, 3])


def equiv_tf(name: str = "equiv_tf", change: float = 0.0) -> onnx.ModelProto:
    """TF-style export of the same MLP: a Transpose of the input (its order undone in the first
    weight's rows), Reshape [1,-1] initializer, MatMul (weights stored transposed) + Add; `change`
    is added to the last layer's weight from the most active hidden neuron to logit 0."""
    g = Graph(name, [1, 1, 2, 3])
    h = g.op("Transpose", [g.x], perm=[0, 1, 3, 2])
    h = g.op("Reshape", [h, g.ints("shape", [1, -1])])
    params = equiv_params()
    hidden = rng_for("equiv:active").uniform(0.0, 1.0, (256, 6))
    for w, b in params[:-1]:
        hidden = np.maximum(hidden @ w.T.astype(np.float64) + b, 0.0)
    active = int(np.argmax(hidden.mean(axis=0)))
    order = np.arange(6).reshape(2, 3).T.ravel()  # transposed position k holds input order[k]
    for k, (w, b) in enumerate(params):
        w = w[:, order] if k == 0 else w.copy()
        if k + 1 == len(params):
            w[0, active] += F32(change)
        h = g.op("Add", [g.op("MatMul", [h, g.init("W", w.T.copy())]), g.init("B", b)])
        h = g.relu(h) if k + 1 < len(params) else h
    return g.model(h, [1, 3])


# --- Twin variants ---
def prune50(w: np.ndarray) -> np.ndarray:
    """Zero exactly half of the entries, smallest |w| first (ties: lower index first)."""
    flat = w.ravel().copy()
    assert flat.size % 2 == 0 and np.count_nonzero(flat) == flat.size
    flat[np.argsort(np.abs(flat), kind="stable")[: flat.size // 2]] = 0.0
    return flat.reshape(w.shape)


def quant8(w: np.ndarray) -> np.ndarray:
    """Per-tensor symmetric int8 fake-quantisation: round(w*127/m) * m/127 (round half to even)."""
    m = float(np.abs(w).max())
    return (np.round(w.astype(np.float64) * 127.0 / m) * m / 127.0).astype(F32)


def derive(base: onnx.ModelProto, name: str, weight_fn=None, node_prefix: str = "") -> onnx.ModelProto:
    """Copy `base`, transforming every weight (initializer of rank >= 2); biases are untouched."""
    model = onnx.ModelProto()
    model.CopyFrom(base)
    model.graph.name = name
    if weight_fn is not None:
        for init in model.graph.initializer:
            if len(init.dims) >= 2:
                init.CopyFrom(numpy_helper.from_array(weight_fn(numpy_helper.to_array(init)), init.name))
    for node in model.graph.node:
        node.name = node_prefix + node.name
    onnx.checker.check_model(model, full_check=True)
    return model


# --- Bad inputs (valid ONNX, except malformed.onnx and opset99.onnx, that the importer must reject) ---
def bad_unsupported_op() -> onnx.ModelProto:
    g = Graph("unsupported_op", [1, 4])
    h = g.op("Erf", [g.gemm(g.x, 4, 4)], name="act_erf")
    return g.model(g.gemm(h, 4, 2), [1, 2])


def bad_branching() -> onnx.ModelProto:
    g = Graph("branching", [1, 4])
    split = g.fresh("Split")
    g.nodes.append(helper.make_node("Split", [g.gemm(g.x, 4, 8), g.ints("sizes", [4, 4])],
                                    [f"{split}_a", f"{split}_b"], name=split, axis=1))
    branch = g.op("Mul", [f"{split}_a", f"{split}_b"])
    return g.model(g.op("Add", [branch, g.gemm(g.x, 4, 4)]), [1, 4])


def bad_log_softmax_middle() -> onnx.ModelProto:
    g = Graph("log_softmax_middle", [1, 4])
    h = g.op("LogSoftmax", [g.gemm(g.x, 4, 4)], axis=1)
    return g.model(g.gemm(h, 4, 2), [1, 2])


def bad_nonzero_pad() -> onnx.ModelProto:
    g = Graph("nonzero_pad", [1, 1, 4, 4])
    pad_value = g.init("pad_value", np.array(0.5, F32))
    h = g.op("Pad", [g.x, g.ints("pads", [0, 0, 1, 1, 0, 0, 1, 1]), pad_value], mode="constant")
    h = g.op("Flatten", [h], axis=1)
    return g.model(g.gemm(h, 36, 2), [1, 2])


def bad_value(name: str, tensor: str, index: tuple, value: float) -> onnx.ModelProto:
    """twin_mlp with one element of one initializer replaced (a NaN or an infinity)."""
    model = twin_mlp(name)
    init = next(i for i in model.graph.initializer if i.name == tensor)
    array = numpy_helper.to_array(init).copy()
    array[index] = value
    init.CopyFrom(numpy_helper.from_array(array, init.name))
    return model


def bad_opset99() -> onnx.ModelProto:
    model = twin_mlp("opset99")
    model.opset_import[0].version = 99
    return model


# --- Fixture tables ---
@dataclass
class Spec:
    file: str
    build: Callable[[], onnx.ModelProto]
    idiom: str
    doc: str
    input_range: tuple[float, float] = (-1.0, 1.0)


UNIT = (0.0, 1.0)
VALID = [
    Spec("mlp_gemm.onnx", mlp_gemm, "pytorch",
         "opset 11, symbolic batch dim; PyTorch flatten idiom (Shape/Gather/Unsqueeze/Concat/Reshape "
         "with Constant nodes); Gemm transB=1; trailing Softmax (logits_reference in manifest)"),
    Spec("mlp_tf.onnx", mlp_tf, "tf",
         "TF/tf2onnx NHWC input; Transpose in/out around Conv (pads 1); Reshape [1,-1] initializer; MatMul+Add"),
    Spec("conv_ops.onnx", conv_ops, "other",
         "Conv stride 2 asymmetric pads; BatchNormalization eps 1e-3; grouped dilated Conv; Pad (pads input); "
         "AveragePool count_include_pad=0 with pads; MaxPool with end pads; Flatten; Gemm alpha/beta, transB=0"),
    Spec("maxpool_net.onnx", maxpool_net, "pytorch",
         "LeNet-like; MaxPool k3 s2 ceil_mode=1 (6x6 -> 3x3, floor would give 2x2); Conv, Flatten, Gemm"),
    Spec("normalize_net.onnx", normalize_net, "pytorch",
         "opset 11; in-graph (x-mean)*(1/std) with PyTorch Expand sub-graph (ConstantOfShape/Mul/Equal/Where); "
         "flatten with Mul of dims; MatMul+Add; Div by scalar constant; final Concat-idiom Reshape", UNIT),
    Spec("misc_ops.onnx", misc_ops, "other",
         "Identity, Dropout (opset 13 inference), Unsqueeze/Squeeze with axes inputs, Sub/Div by constant vectors, "
         "Gemm transB=0"),
    Spec("twin_mlp.onnx", twin_mlp, "twin", "twin original: Gemm 6-12-12-3 MLP (final bias centred)", UNIT),
    Spec("twin_mlp_prune50.onnx", lambda: derive(twin_mlp(), "twin_mlp_prune50", prune50), "twin",
         "twin_mlp with each weight matrix magnitude-pruned to exactly 50% zeros", UNIT),
    Spec("twin_mlp_quant8.onnx", lambda: derive(twin_mlp(), "twin_mlp_quant8", quant8), "twin",
         "twin_mlp with per-tensor symmetric int8 fake-quantised weights", UNIT),
    Spec("twin_mlp_same.onnx", lambda: derive(twin_mlp(), "twin_mlp_same", node_prefix="copy_"), "twin",
         "twin_mlp with identical weights, different node names", UNIT),
    Spec("twin_conv.onnx", twin_conv, "twin",
         "twin original: Conv k3 s2 pads 1, Flatten, Gemm 18-8-3 (final bias centred)", UNIT),
    Spec("twin_conv_prune50.onnx", lambda: derive(twin_conv(), "twin_conv_prune50", prune50), "twin",
         "twin_conv with conv kernel and weight matrices pruned to exactly 50% zeros", UNIT),
    Spec("twin_pool.onnx", twin_pool, "twin",
         "twin original: Conv k3, MaxPool k2 s2, Flatten, Gemm 8-3 (final bias centred)", UNIT),
    Spec("twin_pool_quant8.onnx", lambda: derive(twin_pool(), "twin_pool_quant8", quant8), "twin",
         "twin_pool with int8 fake-quantised weights", UNIT),
    Spec("tiny_2d.onnx", tiny_2d, "other",
         "Gemm 2-4-4-3 MLP on [0,1]^2 (final bias centred): resilience and boundary distance against a dense grid",
         UNIT),
    Spec("equiv_torch.onnx", equiv_torch, "pytorch",
         "equiv pair, PyTorch-style: opset 11, flatten idiom (Shape/Gather/Unsqueeze/Concat/Reshape), "
         "Gemm transB=1, 6-12-12-3", UNIT),
    Spec("equiv_tf.onnx", equiv_tf, "tf",
         "equiv pair, TF-style export of equiv_torch: input Transpose, Reshape [1,-1], MatMul+Add", UNIT),
    Spec("equiv_changed.onnx", lambda: equiv_tf("equiv_changed", change=0.5), "tf",
         "equiv_tf with the last layer's weight from its most active hidden neuron to logit 0 changed by +0.5", UNIT),
    Spec("equiv_f16.onnx", lambda: equiv_torch("equiv_f16", lambda w: w.astype(np.float16).astype(F32)), "pytorch",
         "equiv_torch with every weight matrix rounded to float16 (stored as float32; biases untouched)", UNIT),
    Spec("sigmoid_mlp.onnx", sigmoid_mlp, "other",
         "S-shaped activations (Sigmoid, Tanh) for the relaxation tests: Gemm 4-10-10-3, hidden weights scaled "
         "so pre-activations span about [-4,4] on [0,1]^4 (final bias centred)", UNIT),
    Spec("sigmoid_conv.onnx", sigmoid_conv, "other",
         "S-shaped activations (Sigmoid, Tanh) for the relaxation tests: Conv 1-2 k3 (no pads), Sigmoid, "
         "Flatten, Gemm 32-6, Tanh, Gemm 6-3 (final bias centred)", UNIT),
    Spec("power_ops.onnx", power_ops, "other",
         "Mul of the activation by itself, Pow with per-entry exponents (0.5, 1.5, 2, 3, -1, 0.25), Div of a "
         "constant by the activation, Pow of a constant base and of the activation by itself (final bias centred)",
         UNIT),
    Spec("softmax_ops.onnx", softmax_ops, "other",
         "Softmax inside the network over the last axis of a [1, 2, 3] reshape (opset 13); Gemm 4-6 and 6-3 "
         "(final bias centred)",
         UNIT),
    Spec("residual_conv.onnx", residual_conv, "other",
         "two residual blocks Relu(x + Conv(Relu(Conv(x)))) after Conv 2-3 k3 pads 1 + Relu; Flatten, Gemm 48-3 "
         "(final bias centred); the skip connections are carried past the blocks' layers",
         UNIT),
    Spec("softmax_skip.onnx", softmax_skip, "other",
         "Softmax(Gemm_a(x)) + Gemm_b(x): the input carried past a Softmax; Gemm 5-3 (final bias centred)",
         UNIT),
    Spec("mask_ops.onnx", mask_ops, "other",
         "Where with constant masks on live tensors: entries from two Split parts, then from the activation or "
         "constants; Gemm 4-6 and 3-3 (final bias centred)",
         UNIT),
    Spec("product_ops.onnx", product_ops, "other",
         "Split with both parts used, Mul of the two parts (McCormick), Div of two overlapping Slices of the "
         "activation (a product with a reciprocal), Concat of two Slices and a constant; Gemm 4-6 and 3-3 "
         "(final bias centred)",
         UNIT),
    Spec("step_ops.onnx", step_ops, "other",
         "Split of the activation (one part used), Where(Equal(h, 0), -1, h), Cast to int64 and back (truncation), "
         "Where(LessOrEqual(t, 1), 0.5, t); Gemm 4-8 and 6-3 (final bias centred)",
         UNIT),
    Spec("step_bool.onnx", step_bool, "other",
         "Cast of the activation to bool and back (the ReLU's active set as 0/1), Greater with the constant on the "
         "left, Cast to float; Gemm 3-5 and 5-3 (final bias centred)",
         UNIT),
    Spec("reduce_ops.onnx", reduce_ops, "other",
         "ReduceMean (axes attribute, keepdims) and ReduceSum (axes input with a negative axis, keepdims=0) of the "
         "activation, Cast to float between them, Concat with a constant; Conv pads 1, Gemm 5-6-3 (final bias centred)",
         UNIT),
]

# Models only VNN-LIB queries read (several inputs and outputs): not in the manifest
QUERY_MODELS = [
    ("mio_net.onnx", mio_net, "inputs x1, x2 [1,2]; hidden_relu = Relu(Gemm 2-6 of x1 - x2); outputs Gemm 6-3 "
     "and Gemm 6-2 of it (theories MIO and H)"),
]

BAD_MODELS = [
    ("unsupported_op.onnx", bad_unsupported_op, "Gemm -> Erf (node \"act_erf\") -> Gemm: unsupported op"),
    ("branching.onnx", bad_branching, "Add(a * b, Gemm_b(x)) for a, b the halves of Gemm_a(x): x cannot be carried "
     "past the product"),
    ("log_softmax_middle.onnx", bad_log_softmax_middle, "Gemm -> LogSoftmax -> Gemm: LogSoftmax not at the end"),
    ("nonzero_pad.onnx", bad_nonzero_pad, "Pad mode=constant with constant_value 0.5"),
    ("twin_wrong_shape.onnx", lambda: twin_mlp("twin_wrong_shape", n_in=5),
     "twin_mlp-like MLP with input size 5 instead of 6: shape mismatch with twin_mlp"),
    ("nan_weight.onnx", lambda: bad_value("nan_weight", "W_1", (2, 5), np.nan),
     "twin_mlp-like MLP whose weight W_1 (node Gemm_1) holds a NaN"),
    ("inf_bias.onnx", lambda: bad_value("inf_bias", "B_0", (3,), np.inf),
     "twin_mlp-like MLP whose bias B_0 (node Gemm_0) holds +inf"),
    ("opset99.onnx", bad_opset99, "twin_mlp-like MLP declaring ONNX opset 99, which no front-end knows"),
]
MALFORMED = ("malformed.onnx", "200 bytes of non-protobuf garbage", (b"not an onnx model! " * 11)[:200])
BAD_DOCS = [(MALFORMED[0], MALFORMED[1]), *((f, doc) for f, _, doc in BAD_MODELS)]

# (csv, model, rows, number of features, integer pixels 0..255 (scaled by 1/255) or floats in [0,1])
TWIN_DATA = [
    ("twin_mlp_data.csv", twin_mlp, 40, 6, False),
    ("twin_conv_data.csv", twin_conv, 20, 36, True),
    ("twin_pool_data.csv", twin_pool, 20, 36, True),
    ("tiny_2d_data.csv", tiny_2d, 12, 2, False),
    ("equiv_data.csv", equiv_torch, 20, 6, False),
    ("sigmoid_mlp_data.csv", sigmoid_mlp, 20, 4, False),
    ("step_ops_data.csv", step_ops, 20, 4, False),
    ("softmax_ops_data.csv", softmax_ops, 20, 4, False),
    ("product_ops_data.csv", product_ops, 20, 4, False),
    ("residual_conv_data.csv", residual_conv, 20, 32, True),
    ("step_bool_data.csv", step_bool, 20, 3, False),
    ("sigmoid_conv_data.csv", sigmoid_conv, 20, 36, True),
]


# --- onnxruntime, manifest, data ---
def session(model: onnx.ModelProto, extra_outputs=()) -> Callable[[np.ndarray], list[np.ndarray]]:
    """Deterministic CPU session; extra_outputs exposes intermediate tensors as graph outputs."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for name in extra_outputs:
        m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    input_name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {input_name: x})


def concrete_input_shape(model: onnx.ModelProto) -> list[int]:
    """Input shape with symbolic dims (the batch) set to 1."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else 1 for d in dims]


def floats(a: np.ndarray) -> list[float]:
    """Exact float32 values as Python floats (json writes them round-trippably)."""
    return [float(v) for v in np.asarray(a, F32).ravel()]


def manifest_entry(spec: Spec, model: onnx.ModelProto) -> dict:
    shape = concrete_input_shape(model)
    last = model.graph.node[-1]
    logits = [last.input[0]] if last.op_type == "Softmax" else []
    run = session(model, logits)
    # Keyed by shape and range, so twins with the same input share reference inputs.
    rng = rng_for(f"reference:{shape}:{spec.input_range}")
    entry = {
        "file": spec.file,
        "input_shape": shape,
        "output_size": None,
        "ops": list(dict.fromkeys(n.op_type for n in model.graph.node)),
        "idiom": spec.idiom,
        "input_range": list(spec.input_range),
        "reference": [],
    }
    if logits:
        entry["logits_reference"] = []
    for _ in range(N_REFERENCE):
        x = rng.uniform(*spec.input_range, shape).astype(F32)
        outs = run(x)
        assert all(np.all(np.isfinite(o)) for o in outs)
        entry["output_size"] = int(outs[0].size)
        entry["reference"].append({"input": floats(x), "output": floats(outs[0])})
        if logits:
            entry["logits_reference"].append({"input": floats(x), "output": floats(outs[1])})
    return entry


def write_twin_data(csv_name: str, model: onnx.ModelProto, rows: int, n_feat: int, pixels: bool) -> dict:
    rng = rng_for(f"data:{csv_name}")
    if pixels:
        raw = rng.integers(0, 256, (rows, n_feat))
        text = [[str(int(v)) for v in row] for row in raw]
        xs = raw.astype(F32) / F32(255.0)
    else:
        raw = np.round(rng.uniform(0.0, 1.0, (rows, n_feat)), 4)
        text = [[f"{v:.4f}" for v in row] for row in raw]
        xs = np.array([[float(s) for s in row] for row in text], F32)
    run = session(model)
    shape = concrete_input_shape(model)
    lines, labels, margins = [], [], []
    for x, row in zip(xs, text):
        logits = run(x.reshape(shape))[0].ravel()
        top = np.sort(logits)
        margins.append(float(top[-1] - top[-2]))
        labels.append(int(np.argmax(logits)))
        lines.append(",".join([str(labels[-1]), *row]))
    (OUT / csv_name).write_text("\n".join(lines) + "\n")
    # Labels must not hinge on the last bit of the float32 arithmetic.
    assert min(margins) > 1e-4, (csv_name, min(margins))
    return {"labels": np.bincount(labels, minlength=3).tolist(), "min_margin": min(margins)}


def dump_json(obj) -> str:
    """Indented JSON, but with flat lists of numbers/strings kept on one line."""
    def one_line(m: re.Match) -> str:
        return "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]"

    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", one_line, json.dumps(obj, indent=1)) + "\n"


def save(model: onnx.ModelProto, path: Path) -> None:
    path.write_bytes(model.SerializeToString())


def parses(data: bytes) -> bool:
    try:
        onnx.load_model_from_string(data)
        return True
    except Exception:  # protobuf DecodeError
        return False


# --- Documentation ---
def readme(manifest: list[dict]) -> str:
    ops = {e["file"]: ", ".join(e["ops"]) for e in manifest}
    lines = [
        "# Test fixtures",
        "",
        "Generated by `scripts/make_fixtures.py` (onnx + numpy + onnxruntime, deterministic seeds).",
        "All files are committed, so the Rust tests never need Python. To regenerate (repo root):",
        "",
        "    python3 scripts/make_fixtures.py",
        "",
        f"All models are float32, IR version {IR_VERSION}, opset 13 unless noted. `manifest.json` lists every",
        "valid model with `input_shape` (symbolic batch set to 1), `output_size`, `ops` (distinct op",
        "types in graph order), `idiom`, `input_range` and 4 onnxruntime `reference` cases (flat",
        "row-major float32 inputs/outputs);",
        "models ending in Softmax also carry `logits_reference` (pre-Softmax outputs, same inputs).",
        "Models with the same input shape and range share the same reference inputs.",
        "",
        "| file | idiom | exercises | ops |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{s.file}` | {s.idiom} | {s.doc} | {ops[s.file]} |" for s in VALID]
    lines += ["", "## Twin data sets", "", "| file | rows | format |", "|---|---|---|"]
    for csv_name, build, rows, n_feat, pixels in TWIN_DATA:
        feats = "integers 0..255 (use scale 1/255)" if pixels else "floats in [0,1], 4 decimals"
        lines.append(f"| `{csv_name}` | {rows} | `label,f1..f{n_feat}`, no header; {feats}; "
                     f"label = argmax of `{build.__name__}.onnx` logits |")
    lines += ["", "## Models for VNN-LIB queries only (not in the manifest)", ""]
    lines += [f"* `{file}`: {doc}" for file, _, doc in QUERY_MODELS]
    lines += ["", "## Normalised inputs (`scripts/norm_fixtures.py`, not in the manifest)", "",
              "`cifar_norm.onnx` (3x8x8 input, conv + 2 Gemm, 3 classes) and `cifar_norm_prune50.onnx` take",
              "normalised inputs (CIFAR-10 mean/std applied outside the graph); `cifar_norm_inside*.onnx` are the",
              "same nets with Sub/Div nodes in front (they take CHW pixels in [0,1]). `cifar_norm_hwc.csv` and",
              "`cifar_norm_chw.csv` hold the same 8 rows (pixels 0..255, scale 1/255) in HWC and CHW order, labelled",
              "by `cifar_norm_inside.onnx`; `cifar_norm_logits.json` holds onnxruntime's logits of the inside nets."]
    lines += ["", "## Bad inputs (`bad/`, not in the manifest)", "", "| file | must be rejected because |", "|---|---|"]
    lines += [f"| `bad/{f}` | {doc} |" for f, doc in BAD_DOCS]
    lines += ["", "`results_small.csv` is written by hand (not by the script): a small `lrom --csv` result for",
              "`tests/suite/plot.rs`, with known implication percentages; the expected values are in that test."]
    return "\n".join(lines) + "\n"


def bad_readme() -> str:
    lines = ["Inputs the importer must reject (not listed in ../manifest.json).",
             "Generated by scripts/make_fixtures.py; all except malformed.onnx and opset99.onnx are valid ONNX.", ""]
    lines += [f"{f}: {doc}" for f, doc in BAD_DOCS]
    return "\n".join(lines) + "\n"


# --- main ---
def main() -> None:
    BAD.mkdir(parents=True, exist_ok=True)

    manifest = []
    for spec in VALID:
        model = spec.build()
        save(model, OUT / spec.file)
        manifest.append(manifest_entry(spec, model))
        n_params = sum(int(np.prod(i.dims)) for i in model.graph.initializer)
        assert n_params <= 3000, (spec.file, n_params)
        print(f"{spec.file:26s} params={n_params:5d} ops={manifest[-1]['ops']}")
    (OUT / "manifest.json").write_text(dump_json(manifest))

    for csv_name, build, rows, n_feat, pixels in TWIN_DATA:
        print(f"{csv_name:26s} {write_twin_data(csv_name, build(), rows, n_feat, pixels)}")
    import norm_fixtures  # normalised inputs, HWC rows (issue 17)

    print(f"{'cifar_norm*':26s} {norm_fixtures.write()}")

    for file, build, _ in QUERY_MODELS:
        model = build()
        session(model)  # onnxruntime must load it
        save(model, OUT / file)

    assert not parses(MALFORMED[2])
    (BAD / MALFORMED[0]).write_bytes(MALFORMED[2])
    for file, build, _ in BAD_MODELS:
        model = build()
        if model.opset_import[0].version <= onnx.defs.onnx_opset_version():
            session(model)  # valid ONNX: onnxruntime must load it
        save(model, BAD / file)
    (BAD / "README.txt").write_text(bad_readme())
    (OUT / "README.md").write_text(readme(manifest))
    print(f"wrote {len(VALID)} valid models, {len(BAD_MODELS) + 1} bad inputs to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
