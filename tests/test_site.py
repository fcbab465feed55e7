"""The built book as a reader's browser shows it: headless Chromium, with the network off.

Runs on the HTML that `.ci/run` (or the README's build command) left in ``_build/html``, served
from a local web server; every request that is not to that server is refused and recorded. For
every page of the table of contents: no console errors, every formula typeset by MathJax (no
raw ``\\(`` left), every image loaded, the sidebar listing every chapter. The search page must
find a word of the last chapter, and every chapter with exercises must link its student
version (book/_ext/student_versions.py), without solutions.

Marked ``site``: the README's test command deselects it (it needs a built book); `.ci/run`
runs it after the build with ``LABGPT_REQUIRE_BROWSER=1``, which turns a missing browser or
build into a failure instead of a skip.
"""

from __future__ import annotations

import functools
import http.server
import os
import posixpath
import shutil
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
pytestmark = pytest.mark.site


def toc_pages() -> list[str]:
    """The table of contents' pages, in order, as paths under the site (``book/gpt.html``)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [f + ".html" for f in files]


def _unavailable(reason: str):
    if os.environ.get("LABGPT_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " (LABGPT_REQUIRE_BROWSER=1 requires it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site():
    """A local web server over the built site: its base URL."""
    if not (SITE / "index.html").is_file():
        _unavailable(f"no built book in {SITE}: build it first (the README's first command)")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    executable = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if executable is None:
        _unavailable("no Chromium found (Debian: apt-get install chromium); the site test "
                     "needs a real browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable,
                                    args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


class Visit:
    """One page load with the network off: console errors and refused requests recorded."""

    def __init__(self, browser, site: str, path: str):
        self.errors, self.refused = [], []
        self.page = browser.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(r):
            if r.request.url.startswith(site):
                r.continue_()
            else:
                self.refused.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)
        self.page.goto(f"{site}/{path}", wait_until="load")

    def close(self):
        self.page.close()


TYPESET = """async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
        await MathJax.startup.promise;
    }
    const maths = [...document.querySelectorAll('.math')];
    const raw = maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent);
    const main = document.querySelector('main').cloneNode(true);
    main.querySelectorAll('pre, code, .cell_output, script').forEach(n => n.remove());
    const text = main.innerText;
    const leftovers = ['\\\\(', '\\\\[', '$$'].filter(s => text.includes(s));
    const images = [...document.querySelectorAll('main img')];
    const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
    const links = [...document.querySelectorAll('.bd-sidebar-primary a')].map(
        a => a.getAttribute('href'));
    return {maths: maths.length, raw, leftovers, images: images.length, broken, links};
}"""


@pytest.mark.parametrize("path", toc_pages())
def test_every_page_renders_offline(browser, site, path):
    visit = Visit(browser, site, path)
    try:
        got = visit.page.evaluate(TYPESET)
    finally:
        visit.close()
    assert not visit.errors, f"{path}: console errors {visit.errors}"
    assert not visit.refused, f"{path}: needed the network for {visit.refused}"
    assert not got["raw"], f"{path}: formulas left untypeset: {got['raw'][:3]}"
    assert not got["leftovers"], f"{path}: raw LaTeX delimiters in the text: {got['leftovers']}"
    assert not got["broken"], f"{path}: images that did not load: {got['broken']}"
    listed = {os.path.normpath(os.path.join(os.path.dirname(path), h.split("#")[0]))
              if h.split("#")[0] else path  # the page itself is linked as "#"
              for h in got["links"] if h is not None and not h.startswith("http")}
    missing = [p for p in toc_pages()[1:] if p not in listed]
    assert not missing, f"{path}: the sidebar does not list {missing}"


def test_pages_with_maths_are_typeset(browser, site):
    """The chapters that are mostly formulas do get them typeset (not merely none found)."""
    visit = Visit(browser, site, "book/transformer.html")
    try:
        got = visit.page.evaluate(TYPESET)
        typeset = visit.page.evaluate("() => document.querySelectorAll('mjx-container').length")
    finally:
        visit.close()
    assert got["maths"] > 10 and typeset >= got["maths"]


def chapters_with_exercises() -> list[str]:
    import nbformat

    from labgpt.tools.homework import is_solution

    notebooks = [(p, ROOT / p.replace(".html", ".ipynb")) for p in toc_pages()]
    return [p for p, nb in notebooks
            if nb.exists() and any(is_solution(c) for c in nbformat.read(nb, 4).cells)]


def test_search_finds_a_word_of_the_last_chapter(browser, site):
    last = chapters_with_exercises()[-1]
    visit = Visit(browser, site, "search.html?q=GRPO")
    try:
        visit.page.wait_for_selector("#search-results li", timeout=20_000)
        hits = visit.page.eval_on_selector_all("#search-results li a",
                                               "links => links.map(a => a.getAttribute('href'))")
    finally:
        visit.close()
    assert not visit.errors and not visit.refused
    assert any(h.split("?")[0].split("#")[0].endswith(last) for h in hits), (last, hits)


def test_every_chapter_with_exercises_links_its_student_version(browser, site):
    import nbformat

    from labgpt.tools.homework import STUB, is_solution

    with_exercises = chapters_with_exercises()
    assert len(with_exercises) >= 16
    for path in with_exercises:
        visit = Visit(browser, site, path)
        try:
            href = visit.page.get_attribute(".student-version a[download]", "href")
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), href))
            response = visit.page.request.get(f"{site}/{target}")
            assert response.ok, (path, href, response.status)
            student = nbformat.reads(response.text(), 4)
        finally:
            visit.close()
        solutions = [c for c in student.cells if is_solution(c)]
        assert solutions and all(STUB in c.source for c in solutions), path
        assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
