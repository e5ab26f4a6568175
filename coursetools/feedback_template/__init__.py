"""The course's feedback page: nbgrader's, easier to find one's way in, whole offline.

``nbgrader_config.py`` sets ``GenerateFeedback.exporter_class`` to ``FeedbackExporter``, so
``make feedback``, ``nbgrader generate_feedback`` and formgrader's button make the same
page. It is nbgrader's ``HTMLExporter`` with

- the template ``course_feedback/`` of this folder, which extends nbgrader's
  ``feedback/index.html.j2``: the contents name every graded cell and its points
  (``test_sigmoid — 0 / 2``), long outputs wrap instead of scrolling out of sight, and
  MathJax (from a CDN) is not loaded;
- formulas drawn into the page as it is made (``formulas.py``), in the Markdown of the
  notebook and of the graders' comments.
"""

from pathlib import Path

from jinja2 import FileSystemLoader, PrefixLoader, pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from traitlets import default

from coursetools.feedback_template.formulas import formula_html

TEMPLATES = Path(__file__).resolve().parent  # holds course_feedback/
TEMPLATE = "course_feedback"


def nbgrader_templates():
    """nbgrader's template folder (``feedback/``, which the course's extends)."""
    import nbgrader

    return Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"


class FormulaRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with formulas drawn instead of left to MathJax."""

    def inline_math(self, body):
        return formula_html(body)

    def block_math(self, body):
        return formula_html(body, display=True)

    def latex_environment(self, name, body):
        return formula_html(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


class FeedbackExporter(HTMLExporter):
    """``HTMLExporter`` with the course's feedback template and drawn formulas."""

    @property
    def default_config(self):
        # Under this class's own name, so that it wins over the HTMLExporter.template_name
        # ("feedback") that nbgrader's GenerateFeedback sets; c.FeedbackExporter.* in
        # nbgrader_config.py still overrides it.
        config = super().default_config
        config.FeedbackExporter.template_name = TEMPLATE
        config.FeedbackExporter.extra_template_basedirs = [str(TEMPLATES),
                                                           str(nbgrader_templates())]
        return config

    @default("extra_loaders")
    def _nbgrader_loader(self):
        # "nbgrader/feedback/index.html.j2": nbgrader's page, by a name that the course's
        # course_feedback/index.html.j2, first on the template path, does not hide
        return [PrefixLoader({"nbgrader": FileSystemLoader(str(nbgrader_templates()))})]

    @pass_context
    def markdown2html(self, context, source):
        """``HTMLExporter.markdown2html``, rendered by ``FormulaRenderer``."""
        cell = context.get("cell", {})
        renderer = FormulaRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options,
        )
        return MarkdownWithMath(renderer=renderer).render(source)
