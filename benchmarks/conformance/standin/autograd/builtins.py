"""Stand-in for autograd.builtins: autograd's container constructors and
isinstance/type, for plain Python containers (zygote_sym traces through
ordinary tuples, lists and dicts)."""
import builtins as _b

from .core import (ContainerVSpace, DictVSpace, ListVSpace, NamedTupleVSpace,  # noqa
                   SequenceVSpace, TupleVSpace)

isinstance_ = _b.isinstance
type_ = _b.type
tuple_, list_, dict_ = _b.tuple, _b.list, _b.dict


def isinstance(obj, classinfo):
    return isinstance_(obj, classinfo)


def type(obj):
    return type_(obj)


class TupleMeta(type_(tuple_)):
    def __instancecheck__(self, instance):
        return isinstance_(instance, tuple_)


class tuple(tuple_, metaclass=TupleMeta):
    def __new__(cls, xs=()):
        return tuple_(xs)


class ListMeta(type_):
    def __instancecheck__(self, instance):
        return isinstance_(instance, list_)


class list(list_, metaclass=ListMeta):
    def __new__(cls, xs=()):
        return list_(xs)


class DictMeta(type_):
    def __instancecheck__(self, instance):
        return isinstance_(instance, dict_)


class dict(dict_, metaclass=DictMeta):
    def __new__(cls, *args, **kwargs):
        return dict_(*args, **kwargs)
