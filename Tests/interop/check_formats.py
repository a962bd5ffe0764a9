#!/usr/bin/env python3
"""Interop check of fcstore's model files against the reference libraries.

Usage: check_formats.py DIR

DIR holds, written by FormatInteropTests.swift, for each model NAME listed in
DIR/expected.json: NAME.safetensors, NAME.npz, NAME.onnx. expected.json gives
each model's tensors (shape + values), its string metadata, an input matrix and
the outputs fcstore computes for it with plain loops.

Checks: safetensors.numpy and numpy (allow_pickle=False) read back exactly the
same tensors and metadata; each npz member is byte for byte what numpy.save
writes; onnx.checker.check_model(full_check=True) passes; onnxruntime's outputs
match within 1e-5.

Then writes the reverse direction for the Swift test to read:
DIR/from_python.safetensors (F32), DIR/from_python_f16.safetensors (F16),
DIR/from_python.npz (numpy.savez, ZIP64 local headers).
"""
import io
import json
import os
import sys
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def check_model(directory, name, expected):
    tensors = {
        key: np.array(entry["values"], dtype=np.float32).reshape(entry["shape"])
        for key, entry in expected["tensors"].items()
    }
    metadata = expected["metadata"]

    # safetensors
    path = os.path.join(directory, name + ".safetensors")
    loaded = load_file(path)
    assert set(loaded) == set(tensors), (sorted(loaded), sorted(tensors))
    for key, value in tensors.items():
        assert loaded[key].dtype == np.float32 and loaded[key].shape == value.shape, key
        assert np.array_equal(loaded[key], value), key
    with safe_open(path, framework="np") as f:
        assert f.metadata() == metadata, (f.metadata(), metadata)

    # npz
    path = os.path.join(directory, name + ".npz")
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == set(tensors) | {"fcstore_metadata"}, z.files
        for key, value in tensors.items():
            assert z[key].dtype == np.dtype("<f4") and z[key].shape == value.shape, key
            assert np.array_equal(z[key], value), key
        # One JSON object: the normalisation and signature nested, every other value a string.
        nested = {key: json.loads(value) if key in ("fcstore.normalization", "fcstore.signature") else value
                  for key, value in metadata.items()}
        assert json.loads(z["fcstore_metadata"].item()) == nested
        arrays = {key: z[key] for key in z.files}
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        for info in archive.infolist():
            assert info.compress_type == zipfile.ZIP_STORED, info.filename
            buffer = io.BytesIO()
            np.save(buffer, arrays[info.filename[:-4]], allow_pickle=False)
            assert archive.read(info) == buffer.getvalue(), "member %s differs from numpy.save" % info.filename

    # onnx
    path = os.path.join(directory, name + ".onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == 8 and model.producer_name == "fcstore"
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)]
    assert {p.key: p.value for p in model.metadata_props} == metadata
    initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    layer = 1
    while "layers.%d.weight" % layer in tensors:
        assert np.array_equal(initializers["W%d" % layer], tensors["layers.%d.weight" % layer])
        assert np.array_equal(initializers["b%d" % layer], tensors["layers.%d.bias" % layer])
        layer += 1
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = np.array(expected["input"], dtype=np.float32)
    want = np.array(expected["output"], dtype=np.float32)
    (y,) = session.run(["y"], {"x": x})
    assert y.shape == want.shape, (y.shape, want.shape)
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-5)
    (y1,) = session.run(["y"], {"x": x[:1]})  # dynamic batch: one sample
    np.testing.assert_allclose(y1, want[:1], rtol=0, atol=1e-5)
    print("%s: safetensors, npz, onnx OK (max |diff| %.2g)" % (name, float(np.abs(y - want).max())))


def write_reverse(directory):
    """A model saved the way a numpy/PyTorch user would, with the documented names and keys."""
    w1 = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5) / 8
    b1 = np.array([0.5, -0.25, 1], dtype=np.float32)
    w2 = np.arange(6, dtype=np.float32).reshape(2, 3) / 4 - 0.5
    b2 = np.array([1.5, -2], dtype=np.float32)
    tensors = {"layers.1.weight": w1, "layers.1.bias": b1, "layers.2.weight": w2, "layers.2.bias": b2}
    metadata = {
        "fcstore.activations": "relu,identity",
        "fcstore.loss": "mse",
        "fcstore.normalization": json.dumps({"kind": "minmax", "shift": [0, 1, 2, 3], "scale": [0.5, 0.25, 1, 2]}),
        "note": "written by safetensors.numpy",
    }
    save_file(tensors, os.path.join(directory, "from_python.safetensors"), metadata=metadata)
    save_file({k: v.astype(np.float16) for k, v in tensors.items()},
              os.path.join(directory, "from_python_f16.safetensors"), metadata=metadata)
    np.savez(os.path.join(directory, "from_python.npz"), **tensors, fcstore_metadata=json.dumps(metadata))


def main():
    directory = sys.argv[1]
    with open(os.path.join(directory, "expected.json")) as f:
        expected = json.load(f)
    for name, entry in expected["models"].items():
        check_model(directory, name, entry)
    write_reverse(directory)
    print("interop OK")


if __name__ == "__main__":
    main()
