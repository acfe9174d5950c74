"""autograd.scipy.stats stand-in: one module per distribution, as autograd has."""
from . import beta, chi2, dirichlet, gamma, multivariate_normal, norm, poisson, t  # noqa
