#!/usr/bin/env python3
"""Convert MediaPipe's face models (.tflite) to ONNX for `jamflow portrait prepare` (src/render/face/).

Our own small converter (the PyPI `tflite2onnx` fails on the face-mesh model; `tf2onnx` needs TensorFlow). It
reads the TFLite flatbuffer with the `tflite` package and writes ONNX with `onnx.helper`. It supports exactly the
operators of the two face models: CONV_2D, DEPTHWISE_CONV_2D, ADD, PAD, MAX_POOL_2D, RELU, PRELU, RESHAPE,
CONCATENATION, and DEQUANTIZE of float16 constants (stored as float32 in the ONNX file). Anything else is an error
naming the operator.

Layout: the ONNX graph keeps the TFLite input layout (NHWC, float32, values as MediaPipe feeds them) and output
shapes; inside it works in NCHW (one Transpose after the input; one before each RESHAPE or 4-D output).

    python scripts/tflite_to_onnx.py MODEL.tflite OUT.onnx [--verify]

`--verify` runs both on random and smooth inputs (needs the PyPI `ai-edge-litert` interpreter and `onnxruntime`)
and prints the largest absolute difference per output.
"""

import argparse
import sys

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

OPS = {v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith("_")}
ACT = {v: k for k, v in tflite.ActivationFunctionType.__dict__.items() if not k.startswith("_")}
NCHW = [0, 3, 1, 2]  # NHWC -> NCHW
NHWC = [0, 2, 3, 1]  # NCHW -> NHWC


class Converter:
    def __init__(self, buf: bytes):
        self.m = tflite.Model.GetRootAsModel(buf, 0)
        if self.m.SubgraphsLength() != 1:
            raise SystemExit(f"expected one subgraph, found {self.m.SubgraphsLength()}")
        self.g = self.m.Subgraphs(0)
        self.nodes, self.inits = [], []
        self.consts = {}  # tensor index -> numpy array (TFLite layout)
        self.names = {}  # tensor index -> ONNX value name (4-D activations are NCHW)
        self.uid = 0

    def tensor(self, i):
        return self.g.Tensors(i)

    def shape(self, i):
        return [int(d) for d in self.tensor(i).ShapeAsNumpy()]

    def tname(self, i):
        return self.tensor(i).Name().decode()

    def fresh(self, base):
        self.uid += 1
        return f"{base}__{self.uid}"

    def buffer(self, i):
        t = self.tensor(i)
        data = self.m.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(data, int):  # no data
            return None
        dtype = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16,
                 tflite.TensorType.INT32: np.int32}.get(t.Type())
        if dtype is None:
            raise SystemExit(f"tensor {self.tname(i)}: unsupported constant type {t.Type()}")
        return np.frombuffer(data.tobytes(), dtype=dtype).reshape(self.shape(i))

    def const(self, arr, base):
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(self, op, inputs, outputs, **attrs):
        self.nodes.append(helper.make_node(op, inputs, outputs, **attrs))

    def activation(self, act, x, out):
        name = ACT.get(act, str(act))
        if name == "NONE":
            self.node("Identity", [x], [out])
        elif name == "RELU":
            self.node("Relu", [x], [out])
        elif name == "RELU6":
            self.node("Clip", [x, self.const(np.float32(0), "zero"), self.const(np.float32(6), "six")], [out])
        else:
            raise SystemExit(f"unsupported fused activation {name}")

    def value(self, i):
        """The ONNX name of tensor i (activation or constant in NCHW where 4-D)."""
        if i in self.names:
            return self.names[i]
        if i in self.consts:
            a = self.consts[i].astype(np.float32) if self.consts[i].dtype == np.float16 else self.consts[i]
            if a.ndim == 4:
                a = a.transpose(NCHW)
            self.names[i] = self.const(a, self.tname(i))
            return self.names[i]
        raise SystemExit(f"tensor {self.tname(i)} used before it is produced")

    @staticmethod
    def same_pads(size, k, s, d=1):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        return total // 2, total - total // 2

    def pads(self, padding, in_hw, k_hw, s_hw, d_hw=(1, 1)):
        if padding == tflite.Padding.VALID:
            return [0, 0, 0, 0]
        (t, b), (l, r) = (self.same_pads(in_hw[0], k_hw[0], s_hw[0], d_hw[0]),
                          self.same_pads(in_hw[1], k_hw[1], s_hw[1], d_hw[1]))
        return [t, l, b, r]

    def convert(self):
        g = self.g
        for i in range(g.TensorsLength()):
            b = self.buffer(i)
            if b is not None:
                self.consts[i] = b
        graph_inputs = []
        for k in range(g.InputsLength()):
            i = g.Inputs(k)
            graph_inputs.append(helper.make_tensor_value_info(self.tname(i), TensorProto.FLOAT, self.shape(i)))
            nchw = self.fresh(self.tname(i) + "_nchw")
            self.node("Transpose", [self.tname(i)], [nchw], perm=NCHW)
            self.names[i] = nchw
        for k in range(g.OperatorsLength()):
            self.operator(g.Operators(k))
        graph_outputs = []
        for k in range(g.OutputsLength()):
            i = g.Outputs(k)
            src = self.value(i)
            if len(self.shape(i)) == 4:
                self.node("Transpose", [src], [self.tname(i)], perm=NHWC)
            else:
                self.node("Identity", [src], [self.tname(i)])
            graph_outputs.append(helper.make_tensor_value_info(self.tname(i), TensorProto.FLOAT, self.shape(i)))
        graph = helper.make_graph(self.nodes, "mediapipe", graph_inputs, graph_outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="jamflow")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model

    def operator(self, op):
        oc = self.m.OperatorCodes(op.OpcodeIndex())
        name = OPS[max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())]
        ins = [int(x) for x in op.InputsAsNumpy()]
        outs = [int(x) for x in op.OutputsAsNumpy()]
        out = outs[0]
        oname = self.fresh(self.tname(out))
        opts = op.BuiltinOptions()

        def options(cls):
            o = cls()
            o.Init(opts.Bytes, opts.Pos)
            return o

        if name == "DEQUANTIZE":
            if ins[0] not in self.consts:
                raise SystemExit("DEQUANTIZE of a non-constant tensor is not supported")
            self.consts[out] = self.consts[ins[0]].astype(np.float32)
            return
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x, w = self.value(ins[0]), self.consts[ins[1]].astype(np.float32)
            in_hw = self.shape(ins[0])[1:3]
            if name == "CONV_2D":
                o = options(tflite.Conv2DOptions)
                weight, group = w.transpose(0, 3, 1, 2), 1  # OHWI -> OIHW
            else:
                o = options(tflite.DepthwiseConv2DOptions)
                c = self.shape(ins[0])[3]
                weight, group = w.transpose(3, 0, 1, 2), c  # 1,H,W,C*M -> C*M,1,H,W
            k_hw = w.shape[1:3]
            s_hw = (o.StrideH(), o.StrideW())
            d_hw = (o.DilationHFactor(), o.DilationWFactor())
            inputs = [x, self.const(weight, self.tname(ins[1]))]
            if len(ins) > 2 and ins[2] >= 0:
                inputs.append(self.const(self.consts[ins[2]].astype(np.float32), self.tname(ins[2])))
            conv = self.fresh("conv")
            self.node("Conv", inputs, [conv], kernel_shape=list(k_hw), strides=list(s_hw), dilations=list(d_hw),
                      group=group, pads=self.pads(o.Padding(), in_hw, k_hw, s_hw, d_hw))
            self.activation(o.FusedActivationFunction(), conv, oname)
        elif name == "ADD":
            o = options(tflite.AddOptions)
            s = self.fresh("add")
            self.node("Add", [self.value(ins[0]), self.value(ins[1])], [s])
            self.activation(o.FusedActivationFunction(), s, oname)
        elif name == "RELU":
            self.node("Relu", [self.value(ins[0])], [oname])
        elif name == "PRELU":
            alpha = self.consts[ins[1]].astype(np.float32).reshape(-1, 1, 1)  # [1,1,C] -> [C,1,1]
            self.node("PRelu", [self.value(ins[0]), self.const(alpha, self.tname(ins[1]))], [oname])
        elif name == "PAD":
            p = self.consts[ins[1]]  # [4, 2] NHWC (before, after)
            p = p[NCHW]
            pads = np.concatenate([p[:, 0], p[:, 1]]).astype(np.int64)
            self.node("Pad", [self.value(ins[0]), self.const(pads, "pads")], [oname], mode="constant")
        elif name == "MAX_POOL_2D":
            o = options(tflite.Pool2DOptions)
            k_hw, s_hw = (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW())
            pool = self.fresh("pool")
            self.node("MaxPool", [self.value(ins[0])], [pool], kernel_shape=list(k_hw), strides=list(s_hw),
                      pads=self.pads(o.Padding(), self.shape(ins[0])[1:3], k_hw, s_hw))
            self.activation(o.FusedActivationFunction(), pool, oname)
        elif name == "RESHAPE":
            x = self.value(ins[0])
            if len(self.shape(ins[0])) == 4:
                t = self.fresh("nhwc")
                self.node("Transpose", [x], [t], perm=NHWC)
                x = t
            target = np.array(self.shape(out), dtype=np.int64)
            if len(target) == 4:
                raise SystemExit("RESHAPE to 4-D is not supported")
            self.node("Reshape", [x, self.const(target, "shape")], [oname])
        elif name == "CONCATENATION":
            o = options(tflite.ConcatenationOptions)
            axis = o.Axis()
            if len(self.shape(out)) == 4:
                axis = NCHW.index(axis % 4)
            c = self.fresh("concat")
            self.node("Concat", [self.value(i) for i in ins], [c], axis=axis)
            self.activation(o.FusedActivationFunction(), c, oname)
        else:
            raise SystemExit(f"unsupported TFLite operator {name}")
        self.names[out] = oname


def verify(tfl_path, onnx_path):
    import onnxruntime as ort

    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            print("verify: no TFLite interpreter (pip install ai-edge-litert); skipped", file=sys.stderr)
            return
    it = Interpreter(model_path=tfl_path)
    it.allocate_tensors()
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    inp = it.get_input_details()[0]
    rng = np.random.default_rng(0)
    shape = inp["shape"]
    yy, xx = np.mgrid[0:shape[1], 0:shape[2]] / shape[1]
    smooth = np.stack([np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in range(3)], -1)[None].astype(np.float32)
    worst = 0.0
    for x in [rng.uniform(-1, 1, shape).astype(np.float32), smooth, rng.uniform(0, 1, shape).astype(np.float32)]:
        it.set_tensor(inp["index"], x)
        it.invoke()
        got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {sess.get_inputs()[0].name: x})))
        for o in it.get_output_details():
            ref = it.get_tensor(o["index"])
            d = float(np.abs(ref - got[o["name"]]).max())
            scale = float(np.abs(ref).max())
            worst = max(worst, d / max(scale, 1e-6))
            print(f"verify {onnx_path}: {o['name']} {list(ref.shape)} max |diff| {d:.2e} (max |ref| {scale:.2e})")
    if worst > 1e-3:
        raise SystemExit(f"verify {onnx_path}: relative difference {worst:.2e} > 1e-3")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tflite")
    ap.add_argument("onnx")
    ap.add_argument("--verify", action="store_true")
    a = ap.parse_args()
    with open(a.tflite, "rb") as f:
        model = Converter(f.read()).convert()
    onnx.save(model, a.onnx)
    print(f"{a.tflite} -> {a.onnx} ({len(model.graph.node)} nodes)")
    if a.verify:
        verify(a.tflite, a.onnx)


if __name__ == "__main__":
    main()
