"""The example notebooks run in a real Jupyter kernel and show what they claim.

Every examples/*.ipynb is executed once by nbclient + ipykernel (cwd: the
examples folder, as Jupyter runs it; all notebooks at once, each in its own
kernel); a cell that raises fails that notebook's tests.
Then: every Derivation a notebook displays carries `text/latex` and MathML
`text/html` (with the generated kernel in a <details> block), and the
values the notebooks compute (cells tagged in their metadata) are checked
against independent references: NIST's certified Misra1a parameters and
standard deviations, a unit vector worked by hand, central differences,
SymPy's own derivative of a geometric series.  The notebooks are stored
clean (no outputs).  The HTML-export check of scripts/render_notebooks.py
runs when nbconvert and Chromium are installed.
"""
import ast
import asyncio
import functools
import importlib.util
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NOTEBOOKS = sorted(p.name for p in EXAMPLES.glob("*.ipynb"))
# Derivations each notebook displays, and how many of them from example
# values (each shows its kernel; symbolic arguments show one too, of float inputs)
DERIVATIONS = {"closed_forms.ipynb": (4, 4), "fit.ipynb": (3, 3), "neural_layer.ipynb": (2, 2),
               "physics_loop.ipynb": (2, 2), "point.ipynb": (2, 2)}


@functools.cache
def _executed_all():
    """Every notebook run in its own fresh python3 kernel, all at once (the
    kernels' start-up and imports overlap): name -> the executed notebook,
    or the exception its run raised."""
    async def run(name):
        nb = nbformat.read(EXAMPLES / name, as_version=4)
        await nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                      resources={"metadata": {"path": str(EXAMPLES)}}
                                      ).async_execute()
        return nb

    async def run_all():
        return await asyncio.gather(*map(run, NOTEBOOKS), return_exceptions=True)
    return dict(zip(NOTEBOOKS, asyncio.run(run_all())))


def executed(name):
    """The notebook `name` after running it (a cell that raised: its CellExecutionError)."""
    nb = _executed_all()[name]
    if isinstance(nb, BaseException):
        raise nb
    return nb


def result(name, tag):
    """The value shown by the cell tagged `tag` (its text/plain, read as a Python literal)."""
    cells = [c for c in executed(name).cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{name}: {len(cells)} cells tagged {tag!r}"
    shown = [o for o in cells[0].outputs if o.output_type == "execute_result"]
    assert shown, f"{name}: the cell tagged {tag!r} shows no value"
    return ast.literal_eval(shown[0]["data"]["text/plain"])


def test_every_example_notebook_is_listed():
    assert NOTEBOOKS == sorted(DERIVATIONS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_clean(name):
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{name}: cells {dirty} hold outputs; clear them before committing"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_derivations_show_latex_and_mathml(name):
    nb = executed(name)
    shown = [o["data"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if o.output_type == "execute_result" and "∂f/∂" in o["data"]["text/plain"]]
    count, with_kernel = DERIVATIONS[name]
    assert len(shown) == count
    assert sum("<details>" in d["text/html"] and "def kernel(" in d["text/html"]
               for d in shown) == with_kernel
    for data in shown:
        assert data["text/latex"].startswith("$\\displaystyle")
        assert "\\partial f" in data["text/latex"] or "\\frac" in data["text/latex"]
        html = data["text/html"]
        assert "<math" in html and "<mfrac>" in html and "\\displaystyle" not in html
    # a cell that raised has failed the run already; a traceback printed
    # and swallowed (a logged exception, a warning turned loud) fails here
    printed = [o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if o.output_type == "stream" and o.name == "stderr" and "Traceback" in o.text]
    assert not printed


def test_fit_reaches_nists_certified_values():
    best = result("fit.ipynb", "fitted")
    certified = {"b1": 2.3894212918e+02, "b2": 5.5015643181e-04}  # Misra1a.dat
    for k, v in certified.items():
        assert best[k] == pytest.approx(v, rel=1e-9)  # NIST certifies 11 digits
    assert result("fit.ipynb", "hessian-check") < 1e-12  # closed form vs zs.hessian
    sd = result("fit.ipynb", "standard-errors")
    np.testing.assert_allclose(sd["gauss_newton"], [2.7070075241e+00, 7.2668688436e-06],
                               rtol=1e-8)
    # the full Hessian adds the residuals' curvature: close to, not equal to, Gauss-Newton
    rel = np.abs(np.array(sd["hessian"]) / sd["gauss_newton"] - 1)
    assert np.all((rel > 1e-4) & (rel < 1e-2))


def test_point_gradient_is_the_unit_vector():
    gx, gy = result("point.ipynb", "unit-vector")
    assert (gx, gy) == pytest.approx((4 / math.sqrt(52), 6 / math.sqrt(52)), rel=1e-14)
    assert result("point.ipynb", "unit-length") is True


def test_neural_layer_matrix_form_and_descent():
    assert result("neural_layer.ipynb", "matrix-form") < 1e-14
    first, last = result("neural_layer.ipynb", "descent")
    assert first == pytest.approx(0.57661954251709, rel=1e-12) and last < 1e-6 * first


def test_physics_loop_gradient_and_let_bound_form():
    exact, central = result("physics_loop.ipynb", "central-difference")
    assert exact == pytest.approx(central, rel=1e-7)
    assert result("physics_loop.ipynb", "geometric") is True
    notes, lines, latex_chars = result("physics_loop.ipynb", "let-bound")
    assert lines > 0 and any("more than" in n for n in notes)  # cut, and said so
    assert latex_chars < 100_000  # not the megabytes of the expanded form
    from_forms, numeric = result("physics_loop.ipynb", "let-bound-value")
    assert from_forms == pytest.approx(numeric, rel=1e-12)
    k, reached = result("physics_loop.ipynb", "newton")
    assert reached == pytest.approx(8.5, abs=1e-12) and 0.3 < k < 0.4


def test_closed_forms_notebook_shows_the_matrix_form():
    text = "".join(o["data"]["text/plain"] for c in executed("closed_forms.ipynb").cells
                   if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "execute_result")
    assert "∂f/∂w = 2*X.T*(X*w - y)" in text and "SumTo" not in text


def _render_script():
    spec = importlib.util.spec_from_file_location("render_notebooks",
                                                  ROOT / "scripts" / "render_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dom(math, mfrac, stacked, body):
    check = f'{{&quot;math&quot;:{math},&quot;mfrac&quot;:{mfrac},&quot;stacked&quot;:{stacked}}}'
    return f'<html data-render-check="{check}"><body>{body}</body></html>'


def test_render_check_finds_tex_source_and_unrendered_fractions():
    check_dom = _render_script().check_dom
    assert check_dom(_dom(2, 1, 1, "<math></math><math></math>"
                          "<script>$$x$$ \\displaystyle</script>"), 2) == []
    tex = check_dom(_dom(2, 1, 1, "<p>$\\displaystyle \\frac{1}{2}$</p>"), 2)
    assert len(tex) == 2 and "\\displaystyle" in tex[0] and "\\frac{" in tex[1]
    assert "laid out" in check_dom(_dom(2, 3, 0, ""), 2)[0]
    assert "1 <math> elements" in check_dom(_dom(1, 0, 0, ""), 2)[0]
    assert "did not run" in check_dom("<html><body></body></html>", 0)[0]


def test_html_export_renders_mathml_offline_in_chromium(tmp_path):
    """scripts/render_notebooks.py on the executed Point notebook: Chromium,
    offline, lays out every MathML fraction and shows no TeX source."""
    pytest.importorskip("nbconvert")
    script = _render_script()
    if not any(shutil.which(b) for b in script.BROWSERS):
        pytest.skip("no Chromium installed (apt-get install chromium)")
    path = tmp_path / "point.ipynb"
    nbformat.write(executed("point.ipynb"), path)
    problems = script.render(path, tmp_path, script.find_browser(), execute=False,
                             width=1000, height=1200)
    assert problems == []
    assert (tmp_path / "point.png").stat().st_size > 10_000
