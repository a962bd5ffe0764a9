#!/usr/bin/env python3
"""Checks the model files `fcstore export` wrote, with the reference libraries.

Usage: cli_check_exports.py DIR

DIR holds, written by SharingCLITests.swift through the built binary:
  model.json, model.safetensors, model.npz, model.onnx  one checkpoint in each format
  rows.csv       data rows with a header and a trailing label column
  predict.json   `fcstore predict --json` of the checkpoint on rows.csv

Checks:
  - safetensors.numpy and numpy (allow_pickle=False) read exactly the tensors of
    the JSON export (layers.<l>.weight N_l x N_{l-1}, layers.<l>.bias), float32;
  - the metadata names the activations, the normalisation and the signature (the
    same in the JSON, safetensors, npz and ONNX files);
  - onnxruntime's outputs on the rows match `fcstore predict --json` within 1e-5,
    and so does a numpy forward pass computed here from the JSON export.

Then writes the reverse direction for the Swift test:
  from_python.safetensors  a model with the documented layout and metadata
  from_python.json         numpy's forward pass of it on rows.csv ({"outputs": [[...]]})
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def activation(name, z):
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky-relu":
        return np.where(z > 0, z, np.float32(0.01) * z)
    if name == "identity":
        return z
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


def forward(weights, biases, activations, x, shift=None, scale=None):
    a = x.astype(np.float32)
    if shift is not None:
        a = (a - shift) * scale
    for w, b, name in zip(weights, biases, activations):
        a = activation(name, a @ w.T + b).astype(np.float32)
    return a


def main():
    directory = sys.argv[1]
    path = lambda name: os.path.join(directory, name)

    with open(path("model.json")) as f:
        document = json.load(f)
    assert document["format"] == "fcstore-model" and document["version"] == 1, document["format"]
    activations = document["activations"]
    tensors = {}
    for index, layer in enumerate(document["layers"]):
        tensors["layers.%d.weight" % (index + 1)] = np.array(layer["weight"], dtype=np.float32)
        tensors["layers.%d.bias" % (index + 1)] = np.array(layer["bias"], dtype=np.float32)
    architecture = [tensors["layers.1.weight"].shape[1]] + [tensors["layers.%d.bias" % (l + 1)].shape[0] for l in range(len(activations))]
    assert architecture == document["architecture"], (architecture, document["architecture"])

    # safetensors: the same tensors bit for bit, metadata as documented.
    loaded = load_file(path("model.safetensors"))
    assert set(loaded) == set(tensors), (sorted(loaded), sorted(tensors))
    for key, value in tensors.items():
        assert loaded[key].dtype == np.float32 and loaded[key].shape == value.shape, key
        assert np.array_equal(loaded[key].view(np.uint32), value.view(np.uint32)), key
    with safe_open(path("model.safetensors"), framework="np") as f:
        metadata = f.metadata()
    assert metadata["fcstore.activations"] == ",".join(activations), metadata
    assert metadata["fcstore.architecture"] == "-".join(map(str, architecture)), metadata
    normalization = document["normalization"]
    if normalization is not None:
        stored = json.loads(metadata["fcstore.normalization"])
        assert stored["kind"] == normalization["kind"]
        assert np.array_equal(np.float32(stored["shift"]), np.float32(normalization["shift"]))
        assert np.array_equal(np.float32(stored["scale"]), np.float32(normalization["scale"]))

    # npz: the same tensors; the metadata one JSON object with nested objects.
    with np.load(path("model.npz"), allow_pickle=False) as z:
        assert set(z.files) == set(tensors) | {"fcstore_metadata"}, z.files
        npz_metadata = json.loads(z["fcstore_metadata"].item())
        assert npz_metadata["fcstore.signature"] == json.loads(metadata["fcstore.signature"]), npz_metadata
        if normalization is not None:
            assert npz_metadata["fcstore.normalization"] == json.loads(metadata["fcstore.normalization"]), npz_metadata
        for key, value in tensors.items():
            assert z[key].dtype == np.dtype("<f4") and z[key].shape == value.shape, key
            assert np.array_equal(z[key].view(np.uint32), value.view(np.uint32)), key

    # onnxruntime and numpy against fcstore predict.
    rows = np.loadtxt(path("rows.csv"), delimiter=",", skiprows=1, dtype=np.float32)[:, :-1]
    with open(path("predict.json")) as f:
        predicted = np.array([p["outputs"] for p in json.load(f)["predictions"]], dtype=np.float32)
    session = ort.InferenceSession(path("model.onnx"), providers=["CPUExecutionProvider"])
    # The model signature: the same in every format.
    signature = document.get("signature")
    assert signature is not None and signature["feature_count"] == architecture[0], signature
    assert json.loads(metadata["fcstore.signature"]) == signature, metadata
    assert json.loads(session.get_modelmeta().custom_metadata_map["fcstore.signature"]) == signature
    (y,) = session.run(["y"], {"x": rows})
    assert y.shape == predicted.shape, (y.shape, predicted.shape)
    np.testing.assert_allclose(y, predicted, rtol=0, atol=1e-5)
    shift = scale = None
    if normalization is not None:
        shift = np.float32(normalization["shift"])
        scale = np.float32(normalization["scale"])
    layers = len(activations)
    ours = forward([tensors["layers.%d.weight" % (l + 1)] for l in range(layers)],
                   [tensors["layers.%d.bias" % (l + 1)] for l in range(layers)], activations, rows, shift, scale)
    np.testing.assert_allclose(ours, predicted, rtol=0, atol=1e-5)
    print("exports OK: onnxruntime max |diff| %.2g, numpy max |diff| %.2g"
          % (float(np.abs(y - predicted).max()), float(np.abs(ours - predicted).max())))

    # The reverse direction: a model saved the way a numpy user would.
    generator = np.random.default_rng(5)
    width = rows.shape[1]
    w1 = (generator.standard_normal((12, width)) * 0.2).astype(np.float32)
    b1 = (generator.standard_normal(12) * 0.1).astype(np.float32)
    w2 = (generator.standard_normal((10, 12)) * 0.5).astype(np.float32)
    b2 = (generator.standard_normal(10) * 0.1).astype(np.float32)
    shift = rows.mean(axis=0).astype(np.float32)
    scale = (1 / (rows.std(axis=0) + 1)).astype(np.float32)
    save_file({"layers.1.weight": w1, "layers.1.bias": b1, "layers.2.weight": w2, "layers.2.bias": b2},
              path("from_python.safetensors"),
              metadata={"fcstore.activations": "tanh,softmax",
                        "fcstore.normalization": json.dumps({"kind": "standard", "shift": shift.tolist(), "scale": scale.tolist()}),
                        "author": "cli_check_exports.py"})
    outputs = forward([w1, w2], [b1, b2], ["tanh", "softmax"], rows, shift, scale)
    with open(path("from_python.json"), "w") as f:
        json.dump({"outputs": outputs.astype(float).tolist()}, f)
    print("wrote from_python.safetensors")


if __name__ == "__main__":
    main()
