"""The one exception type for user mistakes.

Every problem a user can fix (a missing column, a bad prior string, an unknown
family, ...) is raised as :class:`GLMMInputError` with a message that names the
offending column/value and what would fix it. The CLI turns it into exit code 2.

Example
-------
>>> raise GLMMInputError("column 'age' is not in the data; columns are: Age, sex")
Traceback (most recent call last):
...
glmm_bayes.errors.GLMMInputError: column 'age' is not in the data; columns are: Age, sex
"""


import warnings
from pathlib import Path

PACKAGE_DIR = str(Path(__file__).resolve().parent)


class GLMMInputError(ValueError):
    """A problem with the user's input: data, formula, family, priors, spec or CLI arguments."""


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the first caller outside this package (the user's own line, not ours).

    >>> # warn_user("dropped 2 of 40 row(s) with missing values in: 'x' (2)")
    """
    warnings.warn(message, category, skip_file_prefixes=(PACKAGE_DIR,))
