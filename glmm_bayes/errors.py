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


class GLMMInputError(ValueError):
    """A problem with the user's input: data, formula, family, priors, spec or CLI arguments."""
