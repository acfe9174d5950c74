from .flatten import flatten  # noqa
from .tracers import const_graph  # noqa
