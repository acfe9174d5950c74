"""The documentation cannot drift from the code."""
import inspect
import operator
import re
import subprocess
import sys
from pathlib import Path

import pytest

import zygote_sym as zs
from zygote_sym.cli import functions as support
from zygote_sym.trace.dispatch import HANDLERS, REDUCERS, UFUNCS

ROOT = Path(__file__).resolve().parents[1]


def test_numpy_support_md_is_the_generated_list():
    text = (ROOT / "docs" / "numpy_support.md").read_text()
    assert text == support.markdown(), (
        "docs/numpy_support.md is out of date: regenerate it with "
        "`python -m zygote_sym functions > docs/numpy_support.md`")


def test_functions_command_prints_it():
    r = subprocess.run([sys.executable, "-m", "zygote_sym", "functions"], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (ROOT / "docs" / "numpy_support.md").read_text()


def test_the_list_covers_every_rule():
    text = support.markdown()
    for func in [*UFUNCS, *HANDLERS]:
        if func in (operator.getitem, operator.setitem):  # shown as x[key], x[key] = v
            continue
        assert f"`{support.public_names(func)[0]}`" in text, func
    for ufunc in REDUCERS:
        assert f"`np.{ufunc.__name__}.reduce`" in text
    for method in ["x.sum()", "x.reshape()", "x.T", "x @ y"]:
        assert f"`{method}`" in text


def _public_functions():
    for name in zs.__all__:
        obj = getattr(zs, name)
        if inspect.isfunction(obj):
            yield f"zygote_sym.{name}", obj
        elif inspect.ismodule(obj):
            for sub in getattr(obj, "__all__", []):
                if inspect.isfunction(getattr(obj, sub)):
                    yield f"zygote_sym.{name}.{sub}", getattr(obj, sub)


@pytest.mark.parametrize("name, func", list(_public_functions()),
                         ids=[n for n, _ in _public_functions()])
def test_public_function_has_a_docstring_with_an_example(name, func):
    doc = inspect.getdoc(func)
    assert doc, f"{name} has no docstring"
    assert ">>>" in doc, f"{name}'s docstring has no example (>>>)"


def test_arrays_md_examples_run():
    import doctest
    result = doctest.testfile(str(ROOT / "docs" / "arrays.md"), module_relative=False)
    assert result.attempted > 10 and result.failed == 0


@pytest.mark.parametrize("doc", ["README.md", "docs/arrays.md", "docs/numpy_support.md",
                                 "docs/pipeline.md"])
def test_relative_links_resolve(doc):
    import re
    path = ROOT / doc
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
        assert (path.parent / target).exists(), f"{doc} links to missing {target}"


def test_readme_snippets_run_and_show_their_results():
    """Every ```python block of the README runs (in order, one namespace); a
    call whose trailing comment is a literal result (`# (32.0,)`) gives it."""
    import ast
    import contextlib
    import io
    import re
    text = (ROOT / "README.md").read_text()
    ns, checked = {}, 0
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        lines = block.splitlines()
        for node in ast.parse(block).body:
            with contextlib.redirect_stdout(io.StringIO()):
                if not isinstance(node, ast.Expr):
                    exec(compile(ast.Module([node], []), "README.md", "exec"), ns)
                    continue
                value = eval(compile(ast.Expression(node.value), "README.md", "eval"), ns)
            _, _, comment = lines[node.end_lineno - 1].partition("  # ")
            comment = comment.strip()
            if comment.startswith(("(", "{", "'", "WithGradient")) and "..." not in comment:
                shown = " ".join(repr(value).split())
                assert comment.startswith(shown), f"README: {comment!r} but it gives {shown!r}"
                checked += 1
    assert checked >= 8


def test_adding_rules_examples_are_in_the_code():
    """Every code line on docs/adding_rules.md stands in the file its step names."""
    text = (ROOT / "docs" / "adding_rules.md").read_text()
    steps = re.split(r"\n(?=\d\. |## )", text)
    checked = 0
    for step in steps:
        files = re.findall(r"`((?:zygote_sym|tests)/[\w/]+\.py)`", step)
        for block in re.findall(r"```python\n(.*?)```", step, re.S):
            for line in filter(None, (ln.strip() for ln in block.splitlines())):
                sources = [(ROOT / f).read_text() for f in files[:1]] or \
                          [p.read_text() for p in (ROOT / "zygote_sym").rglob("*.py")]
                assert any(line in src for src in sources), (files, line)
                checked += 1
    assert checked >= 6
