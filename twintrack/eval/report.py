"""The evaluation report, as Markdown and as plain HTML from the same sections (no template engine)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from twintrack.eval.compare import Table, markdown_table
from twintrack.fileio import write_text_atomic

# A section is (heading, items); an item is a paragraph (str), a table (Table) or a code block (("code", text)).
# A paragraph of Markdown images only ("![alt](file.png) ![alt](other.png)") shows those images in the HTML.
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def render_markdown(title: str, sections) -> str:
    parts = [f"# {title}", ""]
    for heading, items in sections:
        parts += [f"## {heading}", ""] if heading else []
        for item in items:
            if isinstance(item, str):
                parts.append(item)
            elif item[0] == "code":
                parts += ["```yaml", item[1].rstrip(), "```"]
            else:
                parts.append(markdown_table(item))
            parts.append("")
    return "\n".join(parts)


def render_html(title: str, sections) -> str:
    esc = html.escape
    body = [f"<h1>{esc(title)}</h1>"]
    for heading, items in sections:
        body += [f"<h2>{esc(heading)}</h2>"] if heading else []
        for item in items:
            if isinstance(item, str):
                if item.startswith("!["):  # the Markdown image line: the HTML shows the images themselves
                    body += [f'<img src="{esc(src)}" alt="{esc(alt)}">' for alt, src in _IMAGE.findall(item)]
                else:
                    body.append(f"<p>{esc(item)}</p>")
            elif item[0] == "code":
                body.append(f"<pre>{esc(item[1])}</pre>")
            else:
                body.append(_html_table(item))
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}td:first-child{text-align:left}"
             "img{max-width:45%;margin-right:1em}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            f"<style>{style}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


def _html_table(table: Table) -> str:
    header, rows = table
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_reports(out: Path, title: str, sections) -> Path:
    write_text_atomic(out / "report.md", render_markdown(title, sections))
    write_text_atomic(out / "report.html", render_html(title, sections))
    return out / "report.md"
