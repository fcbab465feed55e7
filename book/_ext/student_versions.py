"""Sphinx extension: every chapter with exercises offers its student version for download.

While the HTML is written, each chapter that has solution cells gets its student version
(:func:`labgpt.tools.homework.student_version`: solutions replaced by a stub, hidden tests and
outputs removed) at ``_downloads/student/<chapter>.ipynb``, and a box under the chapter's title
links to it, so an instructor can hand out the link as homework.
"""

import posixpath
from pathlib import Path

import nbformat

FOLDER = "_downloads/student"


def _add_link(app, pagename, templatename, context, doctree):
    from labgpt.tools.homework import is_solution, student_version

    source = Path(app.env.doc2path(pagename))
    if app.builder.format != "html" or source.suffix != ".ipynb" or "body" not in context:
        return
    nb = nbformat.read(source, as_version=4)
    if not any(is_solution(cell) for cell in nb.cells):
        return
    target = Path(app.outdir) / FOLDER / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(student_version(nb), target)
    href = posixpath.relpath(f"{FOLDER}/{source.name}", posixpath.dirname(pagename) or ".")
    box = (f'<div class="admonition tip student-version"><p class="admonition-title">Homework'
           f'</p><p><a class="reference download" href="{href}" download>Download the student '
           f'version</a> of this chapter: the same notebook with every exercise left for the '
           f'learner to solve. Hand out this link; grade with <code>python -m labgpt.homework '
           f'grade</code> (see the page for instructors).</p></div>')
    body = context["body"]
    end = body.find("</h1>")
    context["body"] = body[:end + 5] + box + body[end + 5:] if end >= 0 else box + body


def setup(app):
    app.connect("html-page-context", _add_link)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
