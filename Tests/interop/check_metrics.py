"""Checks `fcstore evaluate --json` against scikit-learn on the same predictions.

Usage: check_metrics.py DATA.csv LABEL_COLUMN PREDICT.json EVALUATE.json

DATA.csv is the file evaluated, LABEL_COLUMN its label column's name,
PREDICT.json the output of `fcstore predict --json` on it and EVALUATE.json the
output of `fcstore evaluate --json`. Values fcstore read as float32 are rounded
to float32 here too, then every metric is computed in float64 by scikit-learn
and compared to 1e-9.
"""
import csv
import json
import math
import sys

import numpy as np
from sklearn import metrics

TOLERANCE = 1e-9


def close(name, ours, theirs):
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, (name, ours.shape, theirs.shape)
    assert np.all(np.abs(ours - theirs) <= TOLERANCE), (name, ours.tolist(), theirs.tolist())


def main(data_path, label, predict_path, evaluate_path):
    with open(data_path, newline="") as f:
        rows = list(csv.reader(f))
    column = [name.strip() for name in rows[0]].index(label)
    y = np.float32([float(row[column]) for row in rows[1:]]).astype(np.float64)
    with open(predict_path) as f:
        predictions = json.load(f)["predictions"]
    with open(evaluate_path) as f:
        report = json.load(f)
    outputs = np.float32([p["outputs"] for p in predictions]).astype(np.float64)
    assert report["rows"] == len(y) == len(outputs), (report["rows"], len(y), len(outputs))

    if report["mse"] is not None:
        predicted = outputs[:, 0]
        close("mse", report["mse"], metrics.mean_squared_error(y, predicted))
        close("rmse", report["rmse"], metrics.root_mean_squared_error(y, predicted))
        close("mae", report["mae"], metrics.mean_absolute_error(y, predicted))
        close("r2", report["r2"], metrics.r2_score(y, predicted))
        assert report["accuracy"] is None and report["roc_auc"] is None, report
        print("regression metrics agree with scikit-learn %s" % sklearn_version())
        return

    classes = len(report["classes"])
    labels = list(range(classes))
    y = y.astype(np.int64)
    predicted = np.int64([p["class"] for p in predictions])
    close("accuracy", report["accuracy"], metrics.accuracy_score(y, predicted))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y, predicted, labels=labels, average=None, zero_division=0)
    close("precision", report["precision"], precision)
    close("recall", report["recall"], recall)
    close("f1", report["f1"], f1)
    assert report["support"] == support.tolist(), (report["support"], support.tolist())
    close("macro_f1", report["macro_f1"], metrics.f1_score(y, predicted, labels=labels, average="macro", zero_division=0))
    assert report["confusion"] == metrics.confusion_matrix(y, predicted, labels=labels).tolist(), report["confusion"]
    if classes == 2:
        score = outputs[:, -1]
        close("roc_auc", report["roc_auc"], metrics.roc_auc_score(y, score))
    else:
        assert report["roc_auc"] is None, report["roc_auc"]
    assert report["mse"] is None and report["r2"] is None, report
    print("classification metrics (%d classes) agree with scikit-learn %s" % (classes, sklearn_version()))


def sklearn_version():
    import sklearn
    return sklearn.__version__


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
