"""Babysitting a net's training: the trace shows overfitting and the update ratio."""

from __future__ import annotations

import numpy as np

import optbench
import optimizers
import problems


def test_overfitting_is_visible_in_the_trace():
    # a large net, no weight decay, a small training split (25% of digits)
    prob = problems.get("mlp", dataset="digits", hidden=[256, 256], reg=0.0, batch_size=64,
                        val_fraction=0.75)
    res = optbench.run(prob, optimizers.get("adam", lr=1e-3), steps=1200, record_every=50,
                       tol_grad=None)
    trace = res.trace
    assert trace["train_acc"].iloc[-1] >= 0.999  # memorised the training split
    gap = trace["train_acc"].iloc[-1] - trace["val_acc"].iloc[-1]
    assert gap > 0.02
    # validation accuracy stopped improving: the last half gains next to nothing
    half = len(trace) // 2
    assert trace["val_acc"].iloc[half:].max() - trace["val_acc"].iloc[half] < 0.02
    # validation loss rises again after its minimum while the training loss keeps falling
    assert trace["val_loss"].iloc[-1] > trace["val_loss"].min()
    assert trace["loss"].iloc[-1] < trace["loss"].iloc[half]


def test_update_ratio_follows_the_learning_rate():
    prob = problems.get("mlp", dataset="spiral", hidden=[16], batch_size=32)
    ratios = {}
    for lr in (1e-4, 1e-3, 1e-2):
        res = optbench.run(prob, optimizers.get("sgd", lr=lr), steps=20, record_every=5)
        ratios[lr] = np.median(res.trace["update_ratio"].iloc[1:])
    assert ratios[1e-4] < ratios[1e-3] < ratios[1e-2]
    # plain SGD: the ratio is lr |g| / |x|, so a 10x larger rate gives about a 10x ratio
    assert 3 < ratios[1e-3] / ratios[1e-4] < 30
