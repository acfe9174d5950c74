"""Check that example notebooks exported to HTML show rendered mathematics offline.

    python scripts/render_notebooks.py                      # every examples/*.ipynb
    python scripts/render_notebooks.py examples/fit.ipynb --out-dir /tmp/nb

For each notebook: nbconvert executes it (a real Jupyter kernel, cwd = the
notebook's folder) and exports it to HTML (the "lab" template, whose MathJax
comes from a CDN); headless Chromium, with every host name unresolvable so
the CDN cannot load (as on a machine without a network), then

1. dumps the DOM after a small script added to a copy of the page has
   measured each MathML fraction: a <mfrac> is rendered when its numerator
   lies above its denominator (without MathML layout they sit side by side);
2. takes a screenshot, NAME.png, to look at.

The check fails when a Derivation's MathML is missing from the page, when a
fraction is not laid out as one, or when TeX source (`\\displaystyle`,
`\\frac{`, `\\begin{aligned}`, `$$`) is visible text: what a reader without
MathJax would see.  Needs nbconvert (`pip install nbconvert`) and Chromium
(`apt-get install chromium`).  Exit status 0 when every notebook passes.
"""
import argparse
import html
import json
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEX_SOURCE = ("\\displaystyle", "\\frac{", "\\begin{aligned}", "\\sum_", "$$")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Runs in the page: how many <math> elements, how many <mfrac> have their
# numerator's box above the denominator's (MathML layout); result on <html>.
MEASURE = """<script>
window.addEventListener("load", () => {
  const fracs = [...document.querySelectorAll("mfrac")];
  const stacked = fracs.filter(f => f.children.length === 2 &&
    f.children[0].getBoundingClientRect().bottom <= f.children[1].getBoundingClientRect().top + 1);
  document.documentElement.setAttribute("data-render-check", JSON.stringify(
    {math: document.querySelectorAll("math").length, mfrac: fracs.length,
     stacked: stacked.length}));
});
</script>"""


def export_html(notebook: Path, out_dir: Path, execute: bool = True,
                timeout: int = 300) -> tuple[Path, int]:
    """Execute `notebook` (unless execute=False) and export it to
    out_dir/NAME.html.  Returns the HTML path and how many outputs carry
    MathML in their text/html (what the page must show as <math>)."""
    import nbformat  # optional: the render extra
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import ExecutePreprocessor

    nb = nbformat.read(notebook, as_version=4)
    if execute:
        ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
            nb, {"metadata": {"path": str(notebook.parent)}})
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    out = out_dir / f"{notebook.stem}.html"
    out.write_text(body, encoding="utf-8")
    expected = sum(o.get("data", {}).get("text/html", "").count("<math")
                   for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    return out, expected


def find_browser(explicit: str | None = None) -> str:
    """The Chromium executable: `explicit`, else the first of BROWSERS on PATH."""
    for name in ([explicit] if explicit else BROWSERS):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit(f"no Chromium found (tried {', '.join([explicit] if explicit else BROWSERS)});"
                     " install it (apt-get install chromium) or pass --browser PATH")


def chromium(browser: str, url: str, extra: list[str], width: int, height: int,
             timeout: int = 120) -> str:
    """Run headless Chromium offline on `url` with `extra` flags; its stdout."""
    with tempfile.TemporaryDirectory(prefix="render-nb-") as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: no CDN, no MathJax
               "--virtual-time-budget=10000", f"--window-size={width},{height}",
               *extra, url]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        raise RuntimeError(f"{browser} exited with {run.returncode}: {run.stderr[-2000:]}")
    return run.stdout


class _VisibleText(HTMLParser):
    """The text a reader sees: everything outside <script>, <style>, <template>."""

    HIDDEN = {"script", "style", "template"}

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.depth += tag in self.HIDDEN

    def handle_endtag(self, tag):
        self.depth -= tag in self.HIDDEN and self.depth > 0

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def check_dom(dom: str, expected_math: int) -> list[str]:
    r"""Problems in a dumped DOM (empty when the mathematics rendered):
    fewer <math> elements than the outputs carry, fractions not laid out
    by MathML, TeX source in the visible text.

    >>> page = ('<html data-render-check="{&quot;math&quot;: 1, &quot;mfrac&quot;: 0, '
    ...         '&quot;stacked&quot;: 0}"><body><p>$\\frac{1}{2}$</p></body></html>')
    >>> check_dom(page, 1)
    ["TeX source visible: ...'$\\\\frac{1}{2}$'..."]
    >>> check_dom(page.replace("<p>$\\frac{1}{2}$</p>", "<math></math>"), 1)
    []
    """
    problems = []
    marker = 'data-render-check="'
    start = dom.find(marker)
    if start < 0:
        return ["the measuring script did not run (no data-render-check on <html>)"]
    raw = dom[start + len(marker):dom.index('"', start + len(marker))]
    seen = json.loads(html.unescape(raw))
    if seen["math"] < expected_math:
        problems.append(f"{seen['math']} <math> elements on the page, "
                        f"{expected_math} in the outputs")
    if seen["stacked"] < seen["mfrac"]:
        problems.append(f"only {seen['stacked']} of {seen['mfrac']} MathML fractions are laid "
                        "out as fractions: this browser does not render MathML")
    parser = _VisibleText()
    parser.feed(dom)
    text = "".join(parser.parts)
    for tex in TEX_SOURCE:
        k = text.find(tex)
        if k >= 0:
            problems.append(f"TeX source visible: ...{text[max(0, k - 40):k + 60]!r}...")
    return problems


def render(notebook: Path, out_dir: Path, browser: str, execute: bool = True,
           width: int = 1200, height: int = 2000) -> list[str]:
    """Export, check and screenshot one notebook; prints a line, returns its problems."""
    from nbclient.exceptions import CellExecutionError  # optional: the render extra

    try:
        page, expected = export_html(notebook, out_dir, execute)
    except CellExecutionError as e:  # the traceback's last line names the error
        problem = f"a cell raised {e.ename}: {e.evalue}"
        print(f"{notebook.name}: FAILED\n    {problem}")
        return [problem]
    probe = page.with_suffix(".check.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"),
                     encoding="utf-8")
    dom = chromium(browser, probe.as_uri(), ["--dump-dom"], width, height)
    problems = check_dom(dom, expected)
    png = out_dir / f"{notebook.stem}.png"
    chromium(browser, page.as_uri(), [f"--screenshot={png}"], width, height)
    if not png.exists():
        problems.append(f"no screenshot written to {png}")
    status = "ok" if not problems else "FAILED"
    print(f"{notebook.name}: {status}: {expected} MathML outputs; {page} ; {png}")
    for p in problems:
        print(f"    {p}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path,
                    help="notebooks to check (default: examples/*.ipynb)")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "build" / "notebooks",
                    help="where NAME.html and NAME.png go (default: build/notebooks)")
    ap.add_argument("--browser", help="Chromium executable (default: found on PATH)")
    ap.add_argument("--no-execute", action="store_true",
                    help="export the stored outputs instead of running the notebook")
    ap.add_argument("--window-size", default="1200,2000",
                    help="screenshot width,height in pixels (default: 1200,2000)")
    args = ap.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "examples").glob("*.ipynb"))
    width, height = (int(v) for v in args.window_size.split(","))
    browser = find_browser(args.browser)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    failed = [nb.name for nb in notebooks
              if render(nb.resolve(), args.out_dir.resolve(), browser, not args.no_execute,
                        width, height)]
    if failed:
        print(f"failed (see above): {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
