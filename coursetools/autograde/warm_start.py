"""Which modules the grading kernels start with already imported (``WarmKernels``).

Each job slot's kernel template (``coursetools.sandbox.zygote``) imports them once, and every
kernel of that slot is forked from it ready. What to import is configuration: the course's
``nbgrader_config.py`` may list it (``c.WarmKernels.imports``, with the environment those
imports need, ``c.WarmKernels.import_env``); otherwise it is whatever the assignment's locked
cells import, the cells no student can change. Only trusted code runs in a template.
``c.WarmKernels.enabled = False`` starts every kernel cold.
"""

import ast

import nbformat
from traitlets import Bool, Dict, List, Unicode
from traitlets.config import Configurable


class WarmKernels(Configurable):
    """Kernels forked ready from a template that imported the course's packages."""

    enabled = Bool(True, help="fork kernels from a template (False: every kernel starts "
                   "cold)").tag(config=True)
    imports = List(Unicode(), default_value=None, allow_none=True, help=(
        "modules the template imports, `module` or `module:name,name` (as `from module "
        "import name, name`; None: what the assignment's locked cells import)")).tag(
        config=True)
    import_env = Dict(Unicode(), help=(
        "environment variables set while the template imports, as the notebook sets them "
        "before its own imports (then removed: the kernels' environment is the usual one)")
    ).tag(config=True)


def locked_imports(notebook):
    """What the locked code cells of ``notebook`` import, in order: ``module`` for ``import
    module``, ``module:a,b`` for ``from module import a, b`` (``module:*`` for ``*``)."""
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("locked"):
            continue
        source = "\n".join(line for line in cell.source.splitlines()
                           if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except (SyntaxError, RecursionError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported = ",".join(alias.name for alias in node.names)
                names = [f"{node.module}:{imported}"]
            else:
                continue
            found += [name for name in names if name not in found]
    return found


def settings(config, source_notebooks):
    """``(imports, import_env)`` of a run, or None when kernels start cold.

    ``config``: the course's nbgrader configuration; ``source_notebooks``: the paths of the
    assignment's notebooks in ``source/`` (the instructor's, never a submission)."""
    warm = WarmKernels(config=config)
    if not warm.enabled:
        return None
    imports = warm.imports
    if imports is None:
        imports = []
        for path in source_notebooks:
            for name in locked_imports(nbformat.read(path, as_version=4)):
                if name not in imports:
                    imports.append(name)
    return tuple(imports), tuple(sorted(warm.import_env.items()))
