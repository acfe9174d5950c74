"""Griffe extension: render zygote_sym's plain docstrings as Markdown.

The docstrings are written for `help()` and doctest (pytest runs them with
--doctest-modules): `>>>` examples are not indented code blocks, and cross
references use Sphinx roles (:func:`gradient`).  Markdown would run an
example's lines together into one paragraph and print the role verbatim, so
each run of `>>>` lines and their expected output (up to the next blank line)
is wrapped in a ```pycon fence and each role becomes inline code.  Prose
indexing such as H[i][j] would read as a Markdown reference link (and fail
the strict build as an unknown cross-reference), so `][` outside code is
escaped.  Only the rendered copy changes; the source docstrings stay plain
text.
"""
import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj):`~?([^`]+)`")
_CODE_SPAN = re.compile(r"(`+[^`]*`+)")


def _prose(line: str) -> str:
    """A line of prose: roles to inline code, `][` escaped outside code spans."""
    parts = _CODE_SPAN.split(_ROLE.sub(r"`\1`", line))
    return "".join(part if i % 2 else part.replace("][", "]\\[") for i, part in enumerate(parts))


def to_markdown(text: str) -> str:
    """Wrap each doctest example (a `>>>` line up to the next blank line) in a
    fence; clean the prose around them (`_prose`)."""
    out: list[str] = []
    in_fence = in_example = False
    for line in text.splitlines():
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if in_example and not stripped:
            out.append(example_indent + "```")
            in_example = False
        if stripped.startswith("```") and not in_example:
            in_fence = not in_fence
        elif (not in_fence and not in_example and stripped.startswith(">>>")
              and len(indent) < 4):  # deeper indentation is already a Markdown code block
            example_indent = indent
            out.append(indent + "```pycon")
            in_example = True
        out.append(line if in_fence or in_example or len(indent) >= 4 else _prose(line))
    if in_example:
        out.append(example_indent + "```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence doctest examples and flatten Sphinx roles in every loaded docstring."""

    def on_object(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
