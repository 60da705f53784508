"""One self-contained HTML page: text, tables and PNG figures embedded as ``data:`` URIs.

The page needs nothing outside itself -- no network, no script, no style sheet, no image file
beside it -- so it can be mailed, archived or opened from a run folder copied elsewhere. Every
piece of user text is escaped; the page is written atomically (:func:`deepnets.atomic.write_atomic`).

>>> page = Page("a <run>")
>>> page.heading("Metrics")
>>> page.table([["accuracy", "0.98"]], header=["metric", "value"])
>>> html = page.render()
>>> "&lt;run&gt;" in html and "<td>0.98</td>" in html
True
"""

from __future__ import annotations

import base64
import html
import os

from ..atomic import write_atomic

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 68em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .6em 0; } td, th { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #f2f2f2; text-align: left; } td.pass { background: #e3f5e1; } td.fail { background: #fbe3e1; }
td.skip { background: #f4f4f4; }
figure { display: inline-block; margin: .5em 1em .5em 0; vertical-align: top; }
figure img { max-width: 32em; border: 1px solid #ddd; } figcaption { font-size: .9em; color: #555; }
td figure { margin: 0; } td figure img { max-width: 16em; } td { overflow-wrap: anywhere; }
pre { background: #f7f7f7; padding: .6em; overflow-x: auto; font-size: .85em; }
"""

#: the first bytes of every PNG file
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI of the PNG bytes ``png`` (refused if they are not a PNG)."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("expected the bytes of a PNG file, got something else")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class Page:
    """An HTML page built piece by piece; :meth:`render` gives the text, :meth:`write` the file."""

    def __init__(self, title: str):
        self.title = title
        self._parts: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str) -> None:
        self._parts.append(f"<p>{html.escape(text)}</p>")

    def preformatted(self, text: str) -> None:
        self._parts.append(f"<pre>{html.escape(text)}</pre>")

    def table(self, rows, *, header=None, classes=None) -> None:
        """A table of ``rows`` (lists of cells, shown with ``str``); ``classes[i][j]`` (``"pass"``,
        ``"fail"``, ``"skip"`` or ``""``) colours a cell. A cell that is a :class:`Figure` is embedded."""
        out = ["<table>"]
        if header:
            out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
        for i, row in enumerate(rows):
            cells = []
            for j, cell in enumerate(row):
                cls = classes[i][j] if classes else ""
                attr = f' class="{cls}"' if cls else ""
                body = cell.html() if isinstance(cell, Figure) else html.escape(str(cell))
                cells.append(f"<td{attr}>{body}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table>")
        self._parts.append("\n".join(out))

    def figure(self, png: bytes, caption: str = "") -> None:
        self._parts.append(Figure(png, caption).html())

    def render(self) -> str:
        body = "\n".join(self._parts)
        return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head>\n"
                f"<body><h1>{html.escape(self.title)}</h1>\n{body}\n</body></html>\n")

    def write(self, path) -> str:
        """Write the page to ``path`` atomically; returns the path."""
        path = os.fspath(path)
        write_atomic(path, self.render().encode("utf-8"))
        return path


class Figure:
    """A PNG embedded in the page, with an optional caption."""

    def __init__(self, png: bytes, caption: str = ""):
        self.uri = png_data_uri(png)
        self.caption = caption

    def html(self) -> str:
        cap = f"<figcaption>{html.escape(self.caption)}</figcaption>" if self.caption else ""
        return f'<figure><img src="{self.uri}" alt="{html.escape(self.caption or "figure")}">{cap}</figure>'
