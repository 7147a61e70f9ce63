"""Small HTML helpers of the self-contained report: inline CSS, tables, embedded PNGs."""
from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto;
       max-width: 1500px; color: #1d2329; background: #fff; padding: 0 18px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 34px;
     border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.sub { color: #57606a; margin-top: 0; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 9px; text-align: right; }
th { background: #f6f8fa; } td.l, th.l { text-align: left; }
tr.fail td { background: #ffebe9; } tr.pass td.v { background: #dafbe1; }
.banner { padding: 10px 14px; border-radius: 6px; font-weight: 600; margin: 14px 0; }
.banner.ok { background: #dafbe1; border: 1px solid #4ac26b; }
.banner.bad { background: #ffebe9; border: 1px solid #ff8182; }
.grid { display: flex; flex-wrap: wrap; gap: 10px; }
.grid figure { margin: 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 12px; color: #57606a; max-width: 1400px; }
.note { font-size: 12px; color: #57606a; } code { background: #f6f8fa; padding: 1px 4px; }
details summary { cursor: pointer; color: #0969da; margin: 6px 0; }
"""


def esc(text: Any) -> str:
    """HTML-escaped text."""
    return html.escape(str(text))


def num(v: Any, spec: str = ".3g") -> str:
    """A number formatted for a table ('n/a' for None and NaN)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, (int, float)):
        return format(v, spec)
    return esc(v)


def pct(v: float | None) -> str:
    """A share as a percentage ('n/a' for None)."""
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f} %"


def img(png: bytes, alt: str, caption: str = "", width: int | None = None) -> str:
    """A figure with the PNG embedded as base64 (no file or URL is referenced)."""
    data = base64.b64encode(png).decode("ascii")
    w = f' style="width:{width}px"' if width else ""
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}"{w}>{cap}</figure>'


def table(header: Sequence[str], rows: Iterable[Sequence[str]], *, left: int = 1,
          row_classes: Sequence[str] | None = None) -> str:
    """A table; the first ``left`` columns are left-aligned; cells are HTML already."""
    cls = lambda i: ' class="l"' if i < left else ""
    head = "".join(f"<th{cls(i)}>{h}</th>" for i, h in enumerate(header))
    head = f"<thead><tr>{head}</tr></thead>" if any(header) else ""
    body = []
    for k, row in enumerate(rows):
        rc = f' class="{row_classes[k]}"' if row_classes and row_classes[k] else ""
        body.append(f"<tr{rc}>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(row)) + "</tr>")
    return f"<table>{head}<tbody>{''.join(body)}</tbody></table>"


def page(title: str, body: str) -> str:
    """The whole document: inline CSS, no external resource."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body>{body}</body></html>\n")
