"""The static scan of a submission's code for what reaches into the grading machinery.

``scan(nb)`` parses every code cell a student can change (IPython syntax is first turned into
Python, so ``!cmd`` and ``%magic`` show up as ``get_ipython()`` calls) and returns findings
such as ``"backprop, line 2: rebinds numpy.allclose"``, the cell named by its test or
function (``coursetools.cell_names``; what it looks for: see ``coursetools.autograde.tamper``).
"""

import ast
import builtins

from coursetools.cell_names import cell_names

SUSPICIOUS_MODULES = {
    "ctypes", "gc", "IPython", "ipykernel", "jupyter_client", "zmq", "nbgrader", "nbformat",
    "nbclient", "importlib", "subprocess", "socket", "multiprocessing", "signal", "pty",
    "builtins", "inspect", "atexit", "_thread", "threading", "faulthandler", "resource",
    "urllib", "http", "requests", "shutil", "asyncio",
}
SUSPICIOUS_CALLS = {
    "get_ipython", "exec", "eval", "compile", "__import__", "breakpoint", "exit", "quit",
    "os._exit", "os.kill", "os.killpg", "os.fork", "os.forkpty", "os.system", "os.popen",
    "os.setsid", "os.execv", "os.execve", "os.execvp", "os.spawnv", "os.abort", "os.chmod",
    "os.symlink", "os.link", "os.remove", "os.unlink", "os.rename", "os.replace",
    "sys.exit", "sys.settrace", "sys.setprofile", "sys._getframe", "sys.addaudithook",
    "sys.setrecursionlimit", "threading.settrace", "threading.setprofile",
    "gc.get_referrers", "gc.get_referents", "gc.get_objects",
    "importlib.reload", "importlib.import_module", "inspect.currentframe", "inspect.stack",
    "signal.signal", "signal.alarm", "signal.setitimer",
}
SUSPICIOUS_ATTRIBUTES = {
    "__subclasses__", "__globals__", "__code__", "__closure__", "__builtins__", "__bases__",
    "__mro__", "f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame",
    "cr_frame", "_getframe", "settrace", "setprofile", "meta_path", "path_hooks",
    "displayhook", "excepthook", "showtraceback", "set_custom_exc", "user_ns", "run_cell",
    "input_transformers_post", "input_transformers_cleanup", "ast_transformers",
}
DUNDERS = {
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__round__", "__abs__",
    "__float__", "__int__", "__index__", "__bool__", "__array__", "__array_ufunc__",
    "__array_function__", "__array_finalize__", "__array_wrap__", "__getattribute__",
    "__instancecheck__", "__subclasscheck__", "__hash__", "__len__", "__iter__",
}
BUILTIN_NAMES = {n for n in dir(builtins) if not n.startswith("_")}
MAX_FINDINGS = 30


def _course_check_names():
    try:
        import nnscratch
        import nnscratch.testing as testing
    except ImportError:  # the scan still works without the course package
        return set()
    names = {n for n in dir(testing) if not n.startswith("_") and callable(getattr(testing, n))}
    names |= set(getattr(nnscratch, "__all__", ()))
    return names - {"math", "numpy"}


def _python_source(source):
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - a cell IPython cannot read cannot run either
        return source


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call):
        inner = _dotted(node.func)
        parts.append(f"{inner}()" if inner else "()")
        return ".".join(reversed(parts))
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, aliases, check_names):
        self.aliases = aliases  # local name -> module path
        self.check_names = check_names
        self.found = []
        self.depth = 0

    def flag(self, node, text):
        self.found.append((getattr(node, "lineno", 0), text))

    def resolve(self, dotted):
        if not dotted:
            return dotted
        head, _, rest = dotted.partition(".")
        if head == "__builtins__":
            head = "builtins"
        elif head in self.aliases:
            head = self.aliases[head]
        return f"{head}.{rest}" if rest else head

    def _is_module_root(self, dotted):
        head = dotted.split(".", 1)[0] if dotted else ""
        return head in self.aliases or head == "__builtins__"

    # imports
    def visit_Import(self, node):
        for alias in node.names:
            local = alias.asname or alias.name.split(".")[0]
            self.aliases[local] = alias.name if alias.asname else alias.name.split(".")[0]
            self._module(node, alias.name)
            self._binding(node, local, imported=True)

    def visit_ImportFrom(self, node):
        module = node.module or ""
        self._module(node, module)
        for alias in node.names:
            local = alias.asname or alias.name
            if alias.name == "*":
                self.flag(node, f"star import from {module}")
                continue
            self.aliases[local] = f"{module}.{alias.name}"
            self._module(node, f"{module}.{alias.name}")
            if not module.startswith("nnscratch"):
                self._binding(node, local, imported=True)

    def _module(self, node, name):
        top = name.split(".")[0]
        if top in SUSPICIOUS_MODULES:
            self.flag(node, f"imports {name}")

    # bindings at the top level of a cell
    def _binding(self, node, name, imported=False):
        if self.depth:
            return
        if name in BUILTIN_NAMES:
            self.flag(node, f"shadows the builtin {name!r}")
        if name in self.check_names:
            self.flag(node, f"redefines the course's check function {name!r}")
        if not imported and name in self.aliases:
            self.flag(node, f"rebinds the module name {name!r} ({self.aliases[name]})")

    def _target(self, node, target, verb="rebinds"):
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(node, element, verb)
        elif isinstance(target, ast.Starred):
            self._target(node, target.value, verb)
        elif isinstance(target, ast.Name):
            if verb == "deletes" and target.id in BUILTIN_NAMES | self.check_names:
                self.flag(node, f"deletes the name {target.id!r}")
            elif verb != "deletes":
                self._binding(node, target.id)
                if not self.depth:
                    self.aliases.pop(target.id, None)
        elif isinstance(target, ast.Attribute):
            dotted = _dotted(target)
            if self._is_module_root(dotted):
                self.flag(node, f"{verb} {self.resolve(dotted)}")
            elif target.attr in SUSPICIOUS_ATTRIBUTES or target.attr == "__dict__":
                self.flag(node, f"{verb} .{target.attr}")
        elif isinstance(target, ast.Subscript):
            container = _dotted(target.value) or ""
            resolved = self.resolve(container) or ""
            if (resolved in ("sys.modules", "builtins", "builtins.__dict__")
                    or container in ("globals()", "vars()", "locals()")
                    or container.startswith("vars.") or container.endswith("__dict__")
                    or (isinstance(target.value, ast.Call) and _dotted(target.value.func) in
                        ("vars", "globals", "locals"))):
                self.flag(node, f"{verb} an entry of {resolved or container}")

    # the names a statement binds (or deletes)
    _BOUND = {
        ast.Assign: lambda n: n.targets, ast.Delete: lambda n: n.targets,
        ast.AugAssign: lambda n: [n.target], ast.AnnAssign: lambda n: [n.target],
        ast.For: lambda n: [n.target], ast.NamedExpr: lambda n: [n.target],
        ast.With: lambda n: [i.optional_vars for i in n.items if i.optional_vars is not None],
    }

    def _bindings(self, node):
        verb = "deletes" if isinstance(node, ast.Delete) else "rebinds"
        for target in self._BOUND[type(node)](node):
            self._target(node, target, verb)
        self.generic_visit(node)

    visit_Assign = visit_AugAssign = visit_AnnAssign = visit_Delete = visit_For = _bindings
    visit_With = visit_NamedExpr = _bindings

    # definitions
    def _scope(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_FunctionDef(self, node):
        self._binding(node, node.name)
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._scope(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        self._scope(node)

    def visit_ClassDef(self, node):
        self._binding(node, node.name)
        for base in node.bases:
            dotted = self.resolve(_dotted(base)) or ""
            if dotted.endswith("ndarray") or dotted.endswith("matrix"):
                self.flag(node, f"class {node.name} subclasses {dotted}")
        dunders = sorted(
            item.name for item in node.body
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in DUNDERS
        ) + sorted(
            t.id for item in node.body if isinstance(item, ast.Assign)
            for t in item.targets if isinstance(t, ast.Name) and t.id in DUNDERS
        )
        if dunders:
            self.flag(node, f"class {node.name} defines {', '.join(dunders)}")
        self._scope(node)

    # uses
    def visit_Call(self, node):
        dotted = _dotted(node.func)
        resolved = self.resolve(dotted) if dotted else None
        for name in {dotted, resolved} - {None}:
            if name in SUSPICIOUS_CALLS or name.split(".")[0] in ("ctypes", "socket",
                                                                   "subprocess"):
                self.flag(node, f"calls {name}()")
                break
        if dotted in ("setattr", "delattr") and node.args:
            target = _dotted(node.args[0])
            if target and (self._is_module_root(target) or target.endswith("__dict__")):
                self.flag(node, f"{dotted}() on {self.resolve(target)}")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr in SUSPICIOUS_ATTRIBUTES:
            self.flag(node, f"uses .{node.attr}")
        elif node.attr == "modules" and self.resolve(_dotted(node)) == "sys.modules":
            self.flag(node, "uses sys.modules (reaches any imported module)")
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id == "__builtins__":
            self.flag(node, "uses __builtins__")


def grade_id_of(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if isinstance(meta, dict) else None


def scan(nb, locked_ids=()):
    """Findings for the code cells of ``nb`` (a NotebookNode or dict), in cell order."""
    aliases, findings = {}, []
    check_names = _course_check_names()
    names = cell_names(nb)  # a finding names its cell's test or function, not its position
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if grade_id_of(cell) in set(locked_ids):
            continue  # nbgrader puts the instructor's source back
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        try:
            tree = ast.parse(_python_source(source))
        except (SyntaxError, ValueError):
            continue  # a cell that does not parse raises before it can do anything
        except (RecursionError, MemoryError):
            # too deeply nested for this process's parser; a kernel that raised its
            # recursion limit may still run it: a person looks at it
            findings.append(f"{names.get(index, f'cell {index}')}: nested too deeply to be "
                            "scanned")
            continue
        scanner = _Scanner(aliases, check_names)
        scanner.visit(tree)
        for lineno, text in scanner.found:
            finding = f"{names.get(index, f'cell {index}')}, line {lineno}: {text}"
            if finding not in findings:
                findings.append(finding)
    if len(findings) > MAX_FINDINGS:
        findings = findings[:MAX_FINDINGS] + [f"... {len(findings) - MAX_FINDINGS} more"]
    return findings
