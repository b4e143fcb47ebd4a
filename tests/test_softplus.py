"""The softplus of the logistic and negative-binomial log-densities (``families._softplus``): the values and
gradient of log(1 + e^x) to rounding, and one exponential per row shared by the log-density and its gradient
in the compiled model (``pt.softplus`` plus its sigmoid gradient made two)."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.scalar import basic as ps
from pytensor.scalar import math as psm
from scipy import special

from glmm_bayes.families import FAMILIES, _softplus

X = np.array([-800.0, -40.0, -1.0, -1e-300, 0.0, 1e-300, 1e-8, 0.3, 1.0, 20.0, 40.0, 800.0])


def test_values_and_gradient_match_log1p_exp_and_sigmoid():
    x = pt.dvector("x")
    f = pytensor.function([x], [_softplus(x), pt.grad(_softplus(x).sum(), x)])
    value, gradient = f(X)
    # e^−|x| as exp2(−|x|·log2 e): the rounded exponent costs |x|·1e-16 relative (2e-15 at x = −40)
    np.testing.assert_allclose(value, np.logaddexp(0.0, X), rtol=1e-13, atol=0)
    np.testing.assert_allclose(gradient, special.expit(X), rtol=1e-13, atol=0)
    assert gradient[X == 0.0] == 0.5  # the gradient at the usual starting point eta = 0


def _scalar_ops(function) -> list:
    """Every scalar op of a compiled PyTensor function, inside fused loops (``FusedElemwise``, an inner
    graph) and ``Composite`` scalar bodies too."""
    ops, stack = [], [node.op for node in function.maker.fgraph.apply_nodes]
    while stack:
        op = stack.pop()
        op = getattr(op, "scalar_op", op)  # an Elemwise's scalar op
        inner = getattr(op, "fgraph", None)  # FusedElemwise / Composite
        if inner is not None:
            stack.extend(node.op for node in inner.apply_nodes)
        else:
            ops.append(op)
    return ops


def test_logistic_gradient_computes_one_exponential_per_row():
    """The compiled log-density + gradient of the Bernoulli-logit likelihood holds one exponential and one
    log1p, and no sigmoid or softplus that would evaluate e^x again (PyTensor's rewrites undo plainer forms)."""
    y, eta = pt.lvector("y"), pt.dvector("eta")
    logp = FAMILIES["bernoulli"].direct_logp["logit"](y, eta).sum()
    f = pytensor.function([y, eta], [logp, pt.grad(logp, eta)], mode="NUMBA")
    kinds = [type(op) for op in _scalar_ops(f)]
    assert not {psm.Sigmoid, psm.Softplus, ps.Exp} & set(kinds), kinds
    assert kinds.count(ps.Exp2) == 1 and kinds.count(ps.Log1p) == 1, kinds
    rows = np.array([0, 1, 1, 0, 1])
    at = np.array([-3.0, 0.0, 2.5, 40.0, -40.0])
    value, gradient = f(rows, at)
    np.testing.assert_allclose(value, np.sum(rows * at - np.logaddexp(0.0, at)), rtol=1e-14)
    np.testing.assert_allclose(gradient, rows - special.expit(at), rtol=1e-14, atol=1e-300)
