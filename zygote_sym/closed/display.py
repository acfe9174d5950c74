"""How a Derivation looks: LaTeX rows, and HTML that renders offline.

The HTML form is presentation MathML from SymPy's own MathML printer:
MathML Core renders natively in Chromium (since 109), Firefox and Safari,
so a notebook exported to HTML shows mathematics without the MathJax CDN
(an image would need a TeX install, a bundled renderer ~1 MB of JS).  The
generated kernel source is one click away in a <details> block.
"""
import html as _html

import sympy as sp


class Partial(sp.Symbol):
    """The left-hand side ∂f/∂x_i of a gradient row: prints as a fraction."""

    def __new__(cls, base, idx):
        obj = sp.Symbol.__new__(cls, f"∂f/∂{base}" + (f"[{', '.join(map(str, idx))}]"
                                                       if idx else ""))
        obj.target = base[idx] if idx else base
        return obj

    def _latex(self, printer):
        return r"\frac{\partial f}{\partial %s}" % printer._print(self.target)


def partial(base, idx):
    return Partial(base, tuple(idx))


def aligned(rows):
    """An aligned block, one `lhs &= rhs` row each (rhs text for ops shown as computed)."""
    body = " \\\\\n".join(f"{sp.latex(lhs)} &= {sp.latex(rhs)}" for lhs, rhs in rows)
    return "\\begin{aligned}\n" + body + "\n\\end{aligned}"


def mathml(lhs, rhs):
    """One row as a MathML <math> element."""
    left = _fraction(lhs) if isinstance(lhs, Partial) else sp.mathml(lhs, printer="presentation")
    right = sp.mathml(rhs, printer="presentation")
    return ('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">'
            f"<mrow>{left}<mo>=</mo>{right}</mrow></math>")


def _fraction(p):
    target = sp.mathml(p.target, printer="presentation")
    return (f"<mfrac><mrow><mo>&#x2202;</mo><mi>f</mi></mrow>"
            f"<mrow><mo>&#x2202;</mo>{target}</mrow></mfrac>")


def html(rows, comments, source):
    parts = [mathml(lhs, rhs) for lhs, rhs in rows]
    parts += [f"<p>{_html.escape(c)}</p>" for c in comments]
    if source:
        parts.append("<details><summary>generated kernel</summary>"
                     f"<pre>{_html.escape(source)}</pre></details>")
    return "<div>" + "\n".join(parts) + "</div>"
