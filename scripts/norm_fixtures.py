"""Fixtures for normalised inputs and HWC rows (issue 17), called by make_fixtures.main().

A small CIFAR-shaped conv net (3x8x8 input) and its pruned twin, each twice: with the
normalisation (x - mean_c) / std_c OUTSIDE the graph (cifar_norm*.onnx, as FANC's CIFAR
nets) and INSIDE it (cifar_norm_inside*.onnx: Sub/Div nodes before the conv, taking CHW
pixels in [0,1]). Data: the same rows as an HWC CSV (ERAN/FANC order) and a CHW CSV, pixels
0..255 (scale 1/255), labelled by the inside-normalised original; cifar_norm_logits.json holds
onnxruntime's logits of the inside-normalised nets on every row (CHW pixels / 255).
"""
from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import helper, numpy_helper

import make_fixtures as mf

MEAN = [0.4914, 0.4822, 0.4465]
STD = [0.2023, 0.1994, 0.2010]
C, H, W = 3, 8, 8
ROWS = 8


def outside() -> onnx.ModelProto:
    """Takes normalised CHW inputs: conv 3->4 (3x3, stride 2, pad 1), ReLU, Gemm 64->8, ReLU, Gemm 8->3."""
    g = mf.Graph("cifar_norm", [1, C, H, W])
    h = g.relu(g.conv(g.x, C, 4, 3, pads=[1, 1, 1, 1], strides=[2, 2]))
    h = g.op("Flatten", [h], axis=1)
    h = g.relu(g.gemm(h, 64, 8))
    return mf.center_logits(g.model(g.gemm(h, 8, 3), [1, 3]))


def inside(base: onnx.ModelProto, name: str) -> onnx.ModelProto:
    """`base` with (x - mean) / std as Sub and Div nodes in front: it takes pixels in [0,1]."""
    model = onnx.ModelProto()
    model.CopyFrom(base)
    model.graph.name = name
    graph = model.graph
    first_input = graph.input[0].name
    graph.input[0].name = "pixels"
    for arr, init_name in [(MEAN, "norm_mean"), (STD, "norm_std")]:
        graph.initializer.append(numpy_helper.from_array(np.array(arr, mf.F32).reshape(1, C, 1, 1), init_name))
    nodes = [helper.make_node("Sub", ["pixels", "norm_mean"], ["centred"], name="norm_sub"),
             helper.make_node("Div", ["centred", "norm_std"], [first_input], name="norm_div")]
    for i, n in enumerate(nodes):
        graph.node.insert(i, n)
    onnx.checker.check_model(model, full_check=True)
    return model


def write() -> dict:
    """Writes the four nets, the two CSVs and the reference logits; returns a summary."""
    base = outside()
    pruned = mf.derive(base, "cifar_norm_prune50", mf.prune50)
    nets = {"cifar_norm.onnx": base, "cifar_norm_prune50.onnx": pruned,
            "cifar_norm_inside.onnx": inside(base, "cifar_norm_inside"),
            "cifar_norm_inside_prune50.onnx": inside(pruned, "cifar_norm_inside_prune50")}
    for file, model in nets.items():
        mf.save(model, mf.OUT / file)
    raw = mf.rng_for("data:cifar_norm").integers(0, 256, (ROWS, C, H, W))
    runs = {k: mf.session(nets[k]) for k in ["cifar_norm_inside.onnx", "cifar_norm_inside_prune50.onnx"]}
    hwc, chw, logits, margins = [], [], {k: [] for k in runs}, []
    for px in raw:
        x = (px.astype(mf.F32) / mf.F32(255.0))[None]
        for k, run in runs.items():
            logits[k].append(mf.floats(run(x)[0]))
        ref = np.sort(logits["cifar_norm_inside.onnx"][-1])
        margins.append(float(ref[-1] - ref[-2]))
        label = str(int(np.argmax(logits["cifar_norm_inside.onnx"][-1])))
        hwc.append(",".join([label, *(str(int(v)) for v in px.transpose(1, 2, 0).ravel())]))
        chw.append(",".join([label, *(str(int(v)) for v in px.ravel())]))
    assert min(margins) > 1e-4, min(margins)
    (mf.OUT / "cifar_norm_hwc.csv").write_text("\n".join(hwc) + "\n")
    (mf.OUT / "cifar_norm_chw.csv").write_text("\n".join(chw) + "\n")
    doc = {"mean": MEAN, "std": STD, "scale": "1/255", "input": "cifar_norm_chw.csv rows / 255, NCHW", "logits": logits}
    (mf.OUT / "cifar_norm_logits.json").write_text(json.dumps(doc, indent=1) + "\n")
    return {"labels": [int(r.split(",")[0]) for r in hwc], "min_margin": min(margins)}


if __name__ == "__main__":
    print(write())
