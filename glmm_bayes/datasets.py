"""Built-in simulated data sets with documented true parameter values.

The "hospital" study
--------------------
A simulation in the style of UCLA's classic simulated "hdp" (hospital, doctor,
patient) data: cancer patients (level 1) nested in the doctors who treat them
(level 2). By default there are 407 doctors with 2 to 40 patients each and
8,525 patients in total.

Doctor-level covariate
    ``DID``          doctor id, ``1..n_doctors``
    ``Experience``   years of doctor experience (int, about 7 to 30)

Patient-level covariates
    ``Age``          years (about 50 +/- 8)
    ``Married``      0/1
    ``Sex``          ``"female"`` / ``"male"``
    ``WBC``          white blood count (about 6 +/- 1)
    ``RBC``          red blood count (about 5 +/- 0.3)
    ``IL6``          interleukin 6, gamma distributed (mean 4, sd 3)
    ``CRP``          C-reactive protein, gamma distributed (mean 5, sd ~3.5)
    ``CancerStage``  ``"I"``, ``"II"``, ``"III"``, ``"IV"`` with probabilities
                     .30/.35/.23/.12 (a plain string column: the alphabetical
                     order of these four numerals is also their natural order,
                     so ``"I"`` is the reference level)
    ``LengthofStay`` days in hospital, int 1..10 (about 5 +/- 1.5, longer for
                     later stages)

Outcomes, each simulated from a known generalized linear mixed model
(the truth is in :data:`HOSPITAL_TRUTH`, the matching formulas in
:data:`HOSPITAL_FORMULAS`; labels follow brms conventions):

``remission`` (bernoulli, logit link)::

    logit P(remission = 1) = b_Intercept + b_IL6*IL6 + b_CRP*CRP
                             + b_CancerStage[II|III|IV] (reference "I")
                             + b_LengthofStay*LengthofStay
                             + b_Experience*Experience
                             + u0[DID] + u1[DID]*IL6
    (u0, u1) ~ MVN(0, diag(sd) R diag(sd)),
    sd = (sd_DID__Intercept, sd_DID__IL6), R[0,1] = cor_DID__Intercept__IL6

``tumorcount`` (negative binomial, log link)::

    log mu = b_Intercept + b_Age*Age + b_CancerStage[II|III|IV] + u[DID]
    u ~ N(0, sd_DID__Intercept),  tumorcount ~ NegBinomial(mu, alpha)
    (PyMC parameterisation: Var = mu + mu**2 / alpha)

``mobility`` (ordinal 1..4, cumulative logit)::

    eta = b_Age*Age + b_LengthofStay*LengthofStay + u[DID],
    u ~ N(0, sd_DID__Intercept)
    P(mobility <= k) = logistic(cutpoint[k] - eta),  k = 1, 2, 3

    (a mobility-impairment score: 1 = fully mobile ... 4 = severely impaired;
    older patients and longer stays score higher)

``discharge`` (categorical: ``"home"`` (reference), ``"nursing"``, ``"rehab"``; multinomial logit)::

    eta_k = b_mu<k>_Intercept + b_mu<k>_Age*Age + b_mu<k>_LengthofStay*LengthofStay + u_k[DID],
    k = nursing, rehab;  P(discharge = k) = exp(eta_k) / (1 + sum_j exp(eta_j))
    (u_nursing, u_rehab) ~ MVN(0, diag(sd) R diag(sd)), correlated across the categories

The remission truth is stored both at the top level of :data:`HOSPITAL_TRUTH`
(``HOSPITAL_TRUTH["b_IL6"] == -0.06``) and under ``HOSPITAL_TRUTH["remission"]``.
With the default seed 37 % of patients are in remission (about 0.34-0.41 across seeds).

Everything is drawn from a single ``numpy.random.default_rng(seed)``, so the
same seed always gives an identical DataFrame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from glmm_bayes.errors import GLMMInputError

__all__ = [
    "BUILTIN",
    "HOSPITAL_FAMILIES",
    "HOSPITAL_FORMULAS",
    "HOSPITAL_TRUTH",
    "hospital",
    "load",
]

#: Names accepted by :func:`load`.
BUILTIN: tuple[str, ...] = ("hospital",)

_DEFAULT_SEED = 2024
_DEFAULT_N_DOCTORS = 407
_DEFAULT_N_PATIENTS = 8525
_MIN_PATIENTS, _MAX_PATIENTS = 2, 40

_STAGES: tuple[str, ...] = ("I", "II", "III", "IV")
_STAGE_PROBS = np.array([0.30, 0.35, 0.23, 0.12])

_REMISSION_TRUTH: dict[str, float] = {
    "b_Intercept": -1.0,
    "b_IL6": -0.06,
    "b_CRP": -0.02,
    "b_CancerStage[II]": -0.3,
    "b_CancerStage[III]": -0.8,
    "b_CancerStage[IV]": -2.0,
    "b_LengthofStay": -0.2,
    "b_Experience": 0.12,
    "sd_DID__Intercept": 1.5,
    "sd_DID__IL6": 0.1,
    "cor_DID__Intercept__IL6": -0.3,
}

_TUMORCOUNT_TRUTH: dict[str, float] = {
    "b_Intercept": -0.3,
    "b_Age": 0.02,
    "b_CancerStage[II]": 0.2,
    "b_CancerStage[III]": 0.4,
    "b_CancerStage[IV]": 0.8,
    "sd_DID__Intercept": 0.5,
    "alpha": 1.5,
}

_MOBILITY_TRUTH: dict[str, float] = {
    "cutpoint[1]": 1.0,
    "cutpoint[2]": 2.5,
    "cutpoint[3]": 4.0,
    "b_Age": 0.02,
    "b_LengthofStay": 0.25,
    "sd_DID__Intercept": 0.8,
}

_DISCHARGE_TRUTH: dict[str, float] = {
    "b_munursing_Intercept": -7.5,
    "b_munursing_Age": 0.09,
    "b_munursing_LengthofStay": 0.25,
    "b_murehab_Intercept": -4.0,
    "b_murehab_Age": 0.05,
    "b_murehab_LengthofStay": 0.2,
    "sd_DID__munursing_Intercept": 0.8,
    "sd_DID__murehab_Intercept": 0.6,
    "cor_DID__munursing_Intercept__murehab_Intercept": 0.5,
}

#: True parameter values used by :func:`hospital` (brms-style labels).
#: Remission parameters sit at the top level and also under ``"remission"``;
#: the other outcomes are nested under ``"tumorcount"``, ``"mobility"`` and ``"discharge"``.
HOSPITAL_TRUTH: dict[str, Any] = {
    **_REMISSION_TRUTH,
    "remission": dict(_REMISSION_TRUTH),
    "tumorcount": dict(_TUMORCOUNT_TRUTH),
    "mobility": dict(_MOBILITY_TRUTH),
    "discharge": dict(_DISCHARGE_TRUTH),
}

#: Model formulas matching the simulation of each outcome.
HOSPITAL_FORMULAS: dict[str, str] = {
    "remission": (
        "remission ~ IL6 + CRP + CancerStage + LengthofStay + Experience + (1 + IL6 | DID)"
    ),
    "tumorcount": "tumorcount ~ Age + CancerStage + (1 | DID)",
    "mobility": "mobility ~ Age + LengthofStay + (1 | DID)",
    "discharge": "discharge ~ Age + LengthofStay + (1 | DID)",
}

#: Response family (and link) of each simulated outcome.
HOSPITAL_FAMILIES: dict[str, str] = {
    "remission": "bernoulli(logit)",
    "tumorcount": "negbinomial(log)",
    "mobility": "cumulative(logit)",
    "discharge": "categorical(logit)",
}


def _patients_per_doctor(rng: np.random.Generator, n_doctors: int) -> np.ndarray:
    """Per-doctor patient counts in [2, 40] whose total is 8,525 * n_doctors / 407.

    Counts are first drawn uniformly on 2..40 (mean 21), then randomly chosen
    doctors gain or lose one patient (staying inside the bounds) until the
    total hits the target, so the total scales exactly with ``n_doctors``.
    """
    counts = rng.integers(_MIN_PATIENTS, _MAX_PATIENTS + 1, size=n_doctors)
    target = round(_DEFAULT_N_PATIENTS * n_doctors / _DEFAULT_N_DOCTORS)
    target = min(max(target, _MIN_PATIENTS * n_doctors), _MAX_PATIENTS * n_doctors)
    diff = target - int(counts.sum())
    while diff != 0:
        step = 1 if diff > 0 else -1
        room = counts < _MAX_PATIENTS if step > 0 else counts > _MIN_PATIENTS
        eligible = np.flatnonzero(room)
        chosen = rng.choice(eligible, size=min(abs(diff), eligible.size), replace=False)
        counts[chosen] += step
        diff -= step * chosen.size
    return counts


def hospital(seed: int = _DEFAULT_SEED, n_doctors: int = _DEFAULT_N_DOCTORS) -> pd.DataFrame:
    """Simulate the hospital study: patients nested in doctors.

    Parameters
    ----------
    seed
        Seed for ``numpy.random.default_rng``; the same seed always gives an
        identical DataFrame.
    n_doctors
        Number of doctors (default 407). Each has 2..40 patients and the total
        number of patients is ``round(8525 * n_doctors / 407)``.

    Returns
    -------
    pandas.DataFrame
        One row per patient, sorted by ``DID``, with columns ``DID``,
        ``Experience``, ``Age``, ``Married``, ``Sex``, ``WBC``, ``RBC``,
        ``IL6``, ``CRP``, ``CancerStage``, ``LengthofStay``, ``remission``,
        ``tumorcount``, ``mobility`` and ``discharge``. The generating model and the true
        parameter values are described in the module docstring and stored in
        :data:`HOSPITAL_TRUTH` / :data:`HOSPITAL_FORMULAS`.

    Example
    -------
    >>> df = hospital()
    >>> df.shape
    (8525, 15)
    >>> int(df["DID"].nunique())
    407
    >>> sorted(df["CancerStage"].unique())
    ['I', 'II', 'III', 'IV']
    >>> HOSPITAL_TRUTH["b_IL6"]
    -0.06
    """
    if isinstance(n_doctors, bool) or not isinstance(n_doctors, (int, np.integer)):
        raise GLMMInputError(f"n_doctors must be a positive integer, got {n_doctors!r}")
    if n_doctors < 1:
        raise GLMMInputError(f"n_doctors must be a positive integer, got {n_doctors!r}")
    n_doctors = int(n_doctors)
    rng = np.random.default_rng(seed)

    # ---- doctors -----------------------------------------------------------
    counts = _patients_per_doctor(rng, n_doctors)
    n = int(counts.sum())
    experience_doc = np.clip(np.rint(rng.normal(17.6, 4.0, n_doctors)), 7, 30).astype(np.int64)

    r = _REMISSION_TRUTH
    sds = np.array([r["sd_DID__Intercept"], r["sd_DID__IL6"]])
    corr = np.array([[1.0, r["cor_DID__Intercept__IL6"]], [r["cor_DID__Intercept__IL6"], 1.0]])
    u_rem = rng.multivariate_normal(np.zeros(2), corr * np.outer(sds, sds), size=n_doctors)
    u_tum = rng.normal(0.0, _TUMORCOUNT_TRUTH["sd_DID__Intercept"], n_doctors)
    u_mob = rng.normal(0.0, _MOBILITY_TRUTH["sd_DID__Intercept"], n_doctors)

    doc = np.repeat(np.arange(n_doctors), counts)  # 0-based doctor index per patient

    # ---- patients ----------------------------------------------------------
    age = rng.normal(50.0, 8.0, n)
    married = (rng.random(n) < 0.6).astype(np.int64)
    sex = np.where(rng.random(n) < 0.5, "female", "male")
    wbc = rng.normal(6.0, 1.0, n)
    rbc = rng.normal(5.0, 0.3, n)
    il6 = rng.gamma(shape=(4.0 / 3.0) ** 2, scale=9.0 / 4.0, size=n)  # mean 4, sd 3
    crp = rng.gamma(shape=2.0, scale=2.5, size=n)  # mean 5, sd ~3.54
    stage_idx = rng.choice(len(_STAGES), size=n, p=_STAGE_PROBS)
    stage = np.asarray(_STAGES, dtype=object)[stage_idx]
    stage_shift = np.array([-0.45, -0.1, 0.3, 0.8])[stage_idx]
    los = np.clip(np.rint(rng.normal(5.0 + stage_shift, 1.3)), 1, 10).astype(np.int64)

    # ---- remission: logistic with correlated random intercept and IL6 slope --
    stage_rem = np.array(
        [0.0, r["b_CancerStage[II]"], r["b_CancerStage[III]"], r["b_CancerStage[IV]"]]
    )[stage_idx]
    eta_rem = (
        r["b_Intercept"]
        + r["b_IL6"] * il6
        + r["b_CRP"] * crp
        + stage_rem
        + r["b_LengthofStay"] * los
        + r["b_Experience"] * experience_doc[doc]
        + u_rem[doc, 0]
        + u_rem[doc, 1] * il6
    )
    remission = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta_rem))).astype(np.int64)

    # ---- tumorcount: negative binomial, log link --------------------------
    t = _TUMORCOUNT_TRUTH
    stage_tum = np.array(
        [0.0, t["b_CancerStage[II]"], t["b_CancerStage[III]"], t["b_CancerStage[IV]"]]
    )[stage_idx]
    mu = np.exp(t["b_Intercept"] + t["b_Age"] * age + stage_tum + u_tum[doc])
    alpha = t["alpha"]
    tumorcount = rng.negative_binomial(alpha, alpha / (alpha + mu)).astype(np.int64)

    # ---- mobility: cumulative logit ---------------------------------------
    m = _MOBILITY_TRUTH
    eta_mob = m["b_Age"] * age + m["b_LengthofStay"] * los + u_mob[doc]
    cuts = np.array([m["cutpoint[1]"], m["cutpoint[2]"], m["cutpoint[3]"]])
    cum = 1.0 / (1.0 + np.exp(-(cuts[None, :] - eta_mob[:, None])))  # P(y <= k)
    mobility = 1 + (rng.random(n)[:, None] > cum).sum(axis=1).astype(np.int64)

    # ---- discharge: multinomial logit, doctor effects correlated across categories
    #      (drawn after everything else, so the other columns do not depend on it)
    d = _DISCHARGE_TRUTH
    sd_dis = np.array([d["sd_DID__munursing_Intercept"], d["sd_DID__murehab_Intercept"]])
    cor_dis = np.array([[1.0, d["cor_DID__munursing_Intercept__murehab_Intercept"]],
                        [d["cor_DID__munursing_Intercept__murehab_Intercept"], 1.0]])
    u_dis = rng.multivariate_normal(np.zeros(2), cor_dis * np.outer(sd_dis, sd_dis), size=n_doctors)
    eta_dis = np.column_stack([d[f"b_mu{k}_Intercept"] + d[f"b_mu{k}_Age"] * age
                               + d[f"b_mu{k}_LengthofStay"] * los + u_dis[doc, i]
                               for i, k in enumerate(("nursing", "rehab"))])
    expo = np.exp(np.column_stack([np.zeros(n), eta_dis]))
    cum_dis = np.cumsum(expo / expo.sum(axis=1, keepdims=True), axis=1)[:, :-1]
    discharge = np.array(["home", "nursing", "rehab"])[(rng.random(n)[:, None] > cum_dis).sum(axis=1)]

    return pd.DataFrame(
        {
            "DID": (doc + 1).astype(np.int64),
            "Experience": experience_doc[doc],
            "Age": age,
            "Married": married,
            "Sex": sex.tolist(),
            "WBC": wbc,
            "RBC": rbc,
            "IL6": il6,
            "CRP": crp,
            "CancerStage": stage.tolist(),
            "LengthofStay": los,
            "remission": remission,
            "tumorcount": tumorcount,
            "mobility": mobility,
            "discharge": discharge.tolist(),
        }
    )


def load(name: str, seed: int | None = None) -> pd.DataFrame:
    """Load a built-in data set by name (see :data:`BUILTIN`).

    ``seed=None`` uses the data set's default seed (2024 for ``"hospital"``).
    An unknown name raises :class:`~glmm_bayes.errors.GLMMInputError` listing
    the available names.

    >>> load("hospital").shape
    (8525, 15)
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key == "hospital":
        return hospital(seed=_DEFAULT_SEED if seed is None else seed)
    available = ", ".join(repr(b) for b in BUILTIN)
    raise GLMMInputError(f"unknown data set {name!r}; available data sets: {available}")
