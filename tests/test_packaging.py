"""Packaging as the ecosystem expects: the docs site builds with every warning
an error, the API reference covers the public API, and the version, py.typed,
LICENSE and type hints (mypy) are what an installed package promises."""
import doctest
import importlib.metadata
import importlib.resources
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import zygote_sym as zs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _pyproject(key):
    """A top-level `key = ...` line's value in pyproject.toml's [project] table (a regex,
    not tomllib: the package supports Python 3.10)."""
    match = re.search(rf"(?m)^{key}\s*=\s*(.+)$", (ROOT / "pyproject.toml").read_text())
    assert match, f"pyproject.toml has no {key} line"
    return match.group(1)


def _run(args, **kwargs):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, **kwargs)


def test_docs_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: "
                        "pip install -e '.[docs]' (the test extra includes it)")
    # The notebooks are rendered unexecuted here: the notebook tests already run every
    # examples/*.ipynb in a kernel, and running them again would cost ~50 s.  A plain
    # `mkdocs build` executes them (mkdocs.yml), as the published site needs.
    env = {**os.environ, "ZYGOTE_SYM_DOCS_EXECUTE": "false", "NO_MKDOCS_2_WARNING": "1"}
    r = _run(["mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")], env=env)
    assert r.returncode == 0, f"mkdocs build --strict failed:\n{r.stdout}\n{r.stderr}"
    site = tmp_path / "site"
    reference = (site / "api" / "differentiation" / "index.html").read_text()
    assert "zygote_sym.gradient" in reference and "has_aux" in reference  # from the docstring
    assert '<span class="gp">&gt;&gt;&gt; </span>' in reference  # doctests as pycon code
    for notebook in (ROOT / "examples").glob("*.ipynb"):
        assert (site / "examples" / notebook.stem / "index.html").is_file(), notebook.name


def test_api_reference_covers_every_public_name():
    pages = "\n".join(p.read_text() for p in (DOCS / "api").glob("*.md"))
    missing = [name for name in zs.__all__
               if f"::: zygote_sym.{name}\n" not in pages and f"`{name}`" not in pages]
    assert not missing, f"zs.__all__ names with no entry in docs/api/*.md: {missing}"


@pytest.mark.parametrize("page", ["index.md", "getting_started.md", "howto/custom_rules.md"])
def test_doc_page_examples_run(page):
    """The `>>>` examples on the pages written for this site give the output they show."""
    text = re.sub(r"(?m)^```.*$", "", (DOCS / page).read_text())  # fences out, blank lines in
    test = doctest.DocTestParser().get_doctest(text, {}, page, str(DOCS / page), 0)
    assert test.examples, f"docs/{page} has no >>> examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=lambda s: pytest.fail(f"docs/{page}:\n{s}"))


def test_version_is_the_installed_metadata():
    assert zs.__version__ == importlib.metadata.version("zygote_sym")
    assert _pyproject("version") == f'"{zs.__version__}"', (
        "the installed metadata is stale: pip install -e . again")


def test_py_typed_marker_ships():
    assert importlib.resources.files("zygote_sym").joinpath("py.typed").is_file()


def test_license_is_the_declared_one():
    assert "MIT" in _pyproject("license")
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_mypy_reports_no_errors(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed: pip install -e '.[test]'")
    r = _run(["mypy", "--ignore-missing-imports", "--follow-imports=silent",
              "--cache-dir", str(tmp_path / "mypy"), "zygote_sym"])
    assert r.returncode == 0, f"mypy found errors:\n{r.stdout}{r.stderr}"
