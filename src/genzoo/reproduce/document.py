"""A tiny document model rendered to Markdown and to one self-contained HTML file.

The report is a list of blocks; each block knows how to render itself both ways, so the two
files can never disagree. Images are referenced by relative path in Markdown and embedded as
base64 data URIs in HTML.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Heading", "Paragraph", "Figure", "Table", "Code", "Document"]


@dataclass
class Heading:
    text: str
    level: int = 2

    def markdown(self, root: Path) -> str:
        return "#" * self.level + " " + self.text

    def html(self, root: Path) -> str:
        return f"<h{self.level}>{html.escape(self.text)}</h{self.level}>"


@dataclass
class Paragraph:
    text: str

    def markdown(self, root: Path) -> str:
        return self.text

    def html(self, root: Path) -> str:
        return f"<p>{html.escape(self.text)}</p>"


@dataclass
class Figure:
    """An image file (PNG) with a caption; ``path`` is absolute or relative to the report."""

    path: Path
    caption: str
    label: str = ""

    def _rel(self, root: Path) -> str:
        return os.path.relpath(self.path, root)

    def markdown(self, root: Path) -> str:
        title = f"**{self.label}.** " if self.label else ""
        return f"![{self.label or 'figure'}]({self._rel(root)})\n\n{title}{self.caption}"

    def html(self, root: Path) -> str:
        data = base64.b64encode(Path(self.path).read_bytes()).decode()
        title = f"<b>{html.escape(self.label)}.</b> " if self.label else ""
        return (
            f'<figure><img alt="{html.escape(self.label or "figure")}" '
            f'src="data:image/png;base64,{data}"><figcaption>{title}'
            f"{html.escape(self.caption)}</figcaption></figure>"
        )


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""

    def markdown(self, root: Path) -> str:
        lines = ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(map(str, r)) + " |" for r in self.rows]
        return ("\n".join(lines) + (f"\n\n{self.caption}" if self.caption else "")).strip()

    def html(self, root: Path) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
            for r in self.rows
        )
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass
class Code:
    text: str

    def markdown(self, root: Path) -> str:
        return f"```\n{self.text}\n```"

    def html(self, root: Path) -> str:
        return f"<pre>{html.escape(self.text)}</pre>"


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;
line-height:1.45;color:#222}
img{max-width:100%;border:1px solid #ddd}figure{margin:1.5em 0}
figcaption{font-size:.9em;color:#444}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}caption{caption-side:bottom;font-size:.85em;color:#555;padding:.4em}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto}
"""


@dataclass
class Document:
    title: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks: object) -> None:
        self.blocks.extend(blocks)

    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]

    def write(self, out_dir: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``report.md`` and a self-contained ``report.html`` into ``out_dir``."""
        root = Path(out_dir)
        root.mkdir(parents=True, exist_ok=True)
        md = "\n\n".join([f"# {self.title}", *(b.markdown(root) for b in self.blocks)]) + "\n"
        body = "\n".join(b.html(root) for b in self.blocks)
        page = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title>"
            '<link rel="icon" href="data:,">'
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>\n"
            f"{body}\n</body></html>\n"
        )
        md_path, html_path = root / "report.md", root / "report.html"
        md_path.write_text(md)
        html_path.write_text(page)
        return md_path, html_path
