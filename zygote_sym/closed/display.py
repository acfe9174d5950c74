"""How a Derivation looks: LaTeX rows, and HTML that renders offline.

The HTML form is presentation MathML from SymPy's own MathML printer
(subclassed, :class:`Presentation`, to read as the LaTeX reads):
MathML Core renders natively in Chromium (since 109), Firefox and Safari,
so a notebook exported to HTML shows mathematics without the MathJax CDN
(an image would need a TeX install, a bundled renderer ~1 MB of JS).  The
generated kernel source is one click away in a <details> block.
"""
import html as _html

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.simplify import fraction


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


WIDTH = 80  # characters of a row's text before its LaTeX breaks at a top-level + or −


def aligned(rows, loops=None):
    """An aligned block, one `lhs &= rhs` row each; a loop row (`loops`: lhs
    -> (j, first, last)) ends with its range `j = first, …, last`; a sum
    longer than WIDTH characters continues on indented lines.

    >>> a, b = sp.symbols("a b")
    >>> tex = aligned([(a, sum(sp.Symbol(f"x{k}") for k in range(30)) - b)])
    >>> tex.count(r"\\quad + ")  # three lines, each under ~80 characters of text
    2
    """
    loops = loops or {}
    body = " \\\\\n".join(
        f"{sp.latex(lhs)} &= {_broken(rhs)}{_range_latex(loops.get(lhs))}" for lhs, rhs in rows)
    return "\\begin{aligned}\n" + body + "\n\\end{aligned}"


def _broken(rhs):
    """LaTeX of `rhs`, a long sum on several lines (:func:`_lines`)."""
    return " \\\\\n&\\quad ".join(
        " ".join(("- " if neg else "+ " if k or n else "") + sp.latex(t) for k, (neg, t) in
                 enumerate(line)) for n, line in enumerate(_lines(rhs)))


def _lines(rhs):
    """`rhs` as lines of (negative, |term|): one line, [[(False, rhs)]],
    unless it is a sum past WIDTH characters of text (sympy.sstr, a stand-in
    for the rendered width), then broken before a top-level sign, its terms
    in the order LatexPrinter prints them."""
    if not isinstance(rhs, sp.Add) or len(sp.sstr(rhs)) <= WIDTH:
        return [[(False, rhs)]]
    lines, width = [[]], 0
    for term in LatexPrinter()._as_ordered_terms(rhs):
        negative = term.could_extract_minus_sign()
        size = len(sp.sstr(term)) + 3
        if width + size > WIDTH and lines[-1]:
            lines.append([])
            width = 0
        lines[-1].append((negative, -term if negative else term))
        width += size
    return lines


def _range_latex(loop):
    return "" if loop is None else \
        r",\qquad %s = %s, \ldots, %s" % tuple(sp.latex(x) for x in loop)


class Presentation(MathMLPresentationPrinter):
    """SymPy's presentation-MathML printer, made to read as its LaTeX does:
    a product keeps `exp(-u)` as e^{-u} in the numerator (`fraction(...,
    exact=True)`, as LatexPrinter._print_Mul does; SymPy's MathML printer
    writes 1/e^{u}), e is a plain italic `e` (LaTeX's `e`, not the
    double-struck ⅇ), and the library's generated names print as LaTeX
    prints them (∂t₂₂/∂k, not `dt` with the subscripts `22 dk`)."""

    def _print_Exp1(self, e):
        return self._leaf("mi", "e")

    def _print_Mul(self, expr):
        mrow = self.dom.createElement("mrow")
        if expr.could_extract_minus_sign():
            mrow.appendChild(self._leaf("mo", "-"))
            expr = -expr
        numer, denom = fraction(expr, exact=True)
        if denom is not sp.S.One:
            frac = self.dom.createElement("mfrac")
            frac.appendChild(self._print(numer))
            frac.appendChild(self._print(denom))
            mrow.appendChild(frac)
            return mrow
        coeff, terms = expr.as_coeff_mul()
        terms = sp.Mul._from_args(terms).as_ordered_factors()
        if coeff != 1:
            terms = [coeff] + terms
        for k, term in enumerate(terms):
            if k:
                mrow.appendChild(self._leaf("mo", self.mathml_tag(expr)))
            mrow.appendChild(self.parenthesize(term, PRECEDENCE["Mul"]))
        return mrow

    def _print_Piecewise(self, expr):  # cases, as LaTeX's \begin{cases} (not `piecewise(...)`)
        table = self.dom.createElement("mtable")
        table.setAttribute("columnalign", "left")
        for value, cond in expr.args:
            when = self.dom.createElement("mrow")
            when.appendChild(self._leaf("mtext", "\u2003otherwise" if cond == sp.true
                                        else "\u2003for\u2002"))
            if cond != sp.true:
                when.appendChild(self._print(cond))
            tr = self.dom.createElement("mtr")
            for cell in (self._print(value), when):
                td = self.dom.createElement("mtd")
                td.appendChild(cell)
                tr.appendChild(td)
            table.appendChild(tr)
        mrow = self.dom.createElement("mrow")
        mrow.appendChild(self._leaf("mo", "{"))
        mrow.appendChild(table)
        return mrow

    def _print_HadamardPower(self, expr):  # A^{∘2}, as LaTeX (SymPy: `hadamardpower(A, 2)`)
        sup = self.dom.createElement("msup")
        sup.appendChild(self.parenthesize(expr.base, PRECEDENCE["Pow"]))
        power = self.dom.createElement("mrow")
        power.appendChild(self._leaf("mo", "&#x2218;"))
        power.appendChild(self._print(expr.exp))
        sup.appendChild(power)
        return sup

    def _print_OneMatrix(self, expr):  # the all-ones matrix: 1, as LaTeX prints it
        return self._leaf("mn", "1")

    def _print_Partial(self, p):  # ∂f/∂x_i
        return self._derivative(self._leaf("mi", "f"), self._print(p.target))

    def _print_Tangent(self, t):  # ∂u/∂θ (closed/recurrence.py)
        return self._derivative(self._print(sp.Symbol(t.of)), self._print(t.wrt))

    def _derivative(self, of, wrt):
        frac = self.dom.createElement("mfrac")
        for x in (of, wrt):
            row = self.dom.createElement("mrow")
            row.appendChild(self._leaf("mo", "&#x2202;"))
            row.appendChild(x)
            frac.appendChild(row)
        return frac

    def _leaf(self, tag, text):
        x = self.dom.createElement(tag)
        x.appendChild(self.dom.createTextNode(text))
        return x


def to_mathml(expr: sp.Basic) -> str:
    """Presentation MathML of `expr`, as it reads in LaTeX (:class:`Presentation`).

    >>> b, x = sp.symbols("b x")
    >>> to_mathml(2 * sp.exp(-b * x))
    '<mrow><mn>2</mn><mo>&InvisibleTimes;</mo><msup><mi>e</mi><mrow><mo>-</mo><mi>b</mi><mo>&InvisibleTimes;</mo><mi>x</mi></mrow></msup></mrow>'
    """
    return Presentation().doprint(expr)


def mathml(lhs, rhs, loop=None):
    """One row as a MathML <math> element (a loop row with its range); a
    long sum as an aligned table of lines, as the LaTeX breaks it (MathML
    Core has no automatic line breaking)."""
    lines = []
    for n, line in enumerate(_lines(rhs)):
        lines.append("".join(("<mo>-</mo>" if neg else "<mo>+</mo>" if k or n else "")
                             + to_mathml(t) for k, (neg, t) in enumerate(line)))
    if loop is not None:
        j, first, last = loop
        lines[-1] += f"<mtext>,&#x2003;{j} = {first}, &#x2026;, {last}</mtext>"
    left = to_mathml(lhs)
    if len(lines) == 1:
        body = f"<mrow>{left}<mo>=</mo>{lines[0]}</mrow>"
    else:
        rows = [f"<mtr><mtd>{left}</mtd><mtd><mrow><mo>=</mo>{lines[0]}</mrow></mtd></mtr>"]
        rows += [f"<mtr><mtd></mtd><mtd><mrow><mspace width=\"1em\"/>{line}</mrow></mtd></mtr>"
                 for line in lines[1:]]
        body = f'<mtable columnalign="right left">{"".join(rows)}</mtable>'
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">{body}</math>'


def html(rows, comments, source, loops=None):
    loops = loops or {}
    parts = [mathml(lhs, rhs, loops.get(lhs)) for lhs, rhs in rows]
    parts += [f"<p>{_html.escape(c)}</p>" for c in comments]
    if source:
        parts.append("<details><summary>kernel source</summary>"
                     f"<pre>{_html.escape(source)}</pre></details>")
    return "<div>" + "\n".join(parts) + "</div>"
