"""Sphinx extension: each built page loads every script once.

sphinx-thebe registers its configuration script each time the documents are read, and a full
Jupyter Book build reads them more than once, so every page declared ``THEBE_JS_URL`` twice and
the browser's console showed the error (tests/test_site.py caught it). Identical scripts are
kept once, in their first place (the copies added later under another file name, ``None``
for ``""``, are the same inline script).
"""


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # The same script may come at another priority, or with None for "" as its file.
        key = (getattr(script, "filename", script) or "",
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)  # after the theme's own
    return {"parallel_read_safe": True, "parallel_write_safe": True}
