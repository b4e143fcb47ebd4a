"""glmm_bayes: Bayesian generalized linear mixed models on PyMC.

Write a model the way lme4/brms/bambi users know it, pick a family, and get a
PyMC model with sensible priors, NUTS sampling with convergence diagnostics and
ArviZ summaries with brms-style labels.

Example
-------
>>> import glmm_bayes as gb                                   # doctest: +SKIP
>>> df = gb.datasets.hospital(seed=1)                         # doctest: +SKIP
>>> model = gb.GLMM("remission ~ IL6 + CRP + (1 + IL6 | DID)", data=df, family="bernoulli")  # doctest: +SKIP
>>> fit = model.fit(seed=1)                                   # doctest: +SKIP
>>> fit.summary()                                             # doctest: +SKIP
"""

import warnings as _warnings

# PyTensor's C backend (used only for log-likelihood evaluation) warns about BLAS on pip installs;
# sampling uses numba/JAX, so the warning is noise for users.
_warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS installation")

from glmm_bayes import datasets  # noqa: E402
from glmm_bayes.compare import compare  # noqa: E402
from glmm_bayes.errors import GLMMInputError  # noqa: E402
from glmm_bayes.families import FAMILIES, get_family  # noqa: E402
from glmm_bayes.fit import Fit, load  # noqa: E402
from glmm_bayes.glmm import GLMM  # noqa: E402
from glmm_bayes.priors import Prior  # noqa: E402
from glmm_bayes.report import report  # noqa: E402
from glmm_bayes.sbc import sbc  # noqa: E402
from glmm_bayes.spec import ModelSpec  # noqa: E402

__version__ = "0.1.0"
__all__ = ["GLMM", "Fit", "GLMMInputError", "ModelSpec", "Prior", "FAMILIES", "get_family", "load",
           "compare", "report", "sbc", "datasets", "__version__"]
