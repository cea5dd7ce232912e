"""The shape of the library: no import cycles, the project's nouns spelled in one place, and the rerun contract.

A workflow job's code digest covers its script and every library module the script imports, transitively
(:func:`rnnrobust.provenance.library_modules`), so module boundaries are rerun boundaries. The tests below
hold those boundaries: which code each job may import, package ``__init__`` files that import nothing
beneath them, imports that only go down the layers, and modules and functions small enough to read.
"""

import ast
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pytest

from rnnrobust import provenance

SRC = Path(__file__).resolve().parents[1] / "src"
LIBRARY = SRC / "rnnrobust"
SCRIPTS = SRC.parent / "workflow" / "scripts"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_files() -> dict[str, Path]:
    """Every module of the library, by dotted name."""
    return {module_name(path): path for path in sorted(LIBRARY.rglob("*.py"))}


def test_library_has_no_import_cycle():
    graph = {}
    for name, path in library_files().items():
        imported = provenance.direct_imports(path, SRC, name)
        # a module imports its parent packages (they run first), which is not a cycle
        graph[name] = {m for m in imported if m != name and not name.startswith(m + ".")}
    visiting, done = [], set()

    def visit(node):
        if node in done:
            return
        assert node not in visiting, " → ".join([*visiting[visiting.index(node) :], node])
        visiting.append(node)
        for child in sorted(graph.get(node, ())):
            visit(child)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


NOUNS = [
    r"['\"]adding['\"],\s*['\"]imdb['\"],\s*['\"]mnist['\"]",  # the tasks
    r"['\"]rnn['\"],\s*['\"]lstm['\"],\s*['\"]gru['\"]",  # the cells
    r"['\"]baseline['\"],\s*['\"]stabilized['\"]",  # the regimes
    r"['\"]i['\"],\s*['\"]f['\"],\s*['\"]c['\"],\s*['\"]o['\"]",  # LSTM gates
    r"['\"]z['\"],\s*['\"]r['\"],\s*['\"]h['\"]",  # GRU gates
    r"['\"]encoder['\"],\s*['\"]decoder['\"]",  # the adding task's layers
]


def test_the_nouns_are_spelled_only_in_layout():
    roots = [LIBRARY, *(SRC.parent / folder for folder in ("workflow", "benchmarks", "tests"))]
    files = [p for root in roots for p in root.rglob("*") if p.suffix in (".py", ".smk")]
    offenders = []
    for path in files:
        if path.name in ("layout.py", "test_house.py"):
            continue
        text = path.read_text()
        for pattern in NOUNS:
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(SRC.parent)}: {pattern}")
    assert not offenders, offenders


def test_library_modules_follow_relative_and_lazy_imports(tmp_path):
    package = tmp_path / "rnnrobust"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from .sub import c\n")
    (package / "sub" / "__init__.py").write_text("from .c import x\n")
    (package / "sub" / "c.py").write_text("x = 1\n")
    (package / "unused.py").write_text("")
    script = tmp_path / "job.py"
    script.write_text("import json\nfrom rnnrobust.a import thing\n")
    assert set(provenance.library_modules(script, tmp_path)) == {
        "rnnrobust", "rnnrobust.a", "rnnrobust.b", "rnnrobust.sub", "rnnrobust.sub.c",
    }  # fmt: skip
    before = provenance.code_digest(script, tmp_path)
    (package / "unused.py").write_text("y = 2\n")
    assert provenance.code_digest(script, tmp_path) == before
    (package / "sub" / "c.py").write_text("x = 2\n")
    assert provenance.code_digest(script, tmp_path) != before
    assert ast.parse(provenance.normalized_source(package / "sub" / "c.py"))


# ---------------------------------------------------------------------------------------------
# The rerun contract: which library code each job's digest covers
# ---------------------------------------------------------------------------------------------


def script_closure(script: str) -> dict[str, Path]:
    """The library modules in the code digest of ``workflow/scripts/<script>.py``, by name."""
    return provenance.library_modules(SCRIPTS / f"{script}.py", SRC)


def import_chain(script: str, module: str) -> str:
    """How the script comes to import ``module``: the shortest chain of direct imports, for messages."""
    start = SCRIPTS / f"{script}.py"
    came_from: dict[str, str | None] = {}
    todo = deque([(start, None)])
    while todo:
        path, name = todo.popleft()
        for imported, file in provenance.direct_imports(path, SRC, name).items():
            if imported not in came_from:
                came_from[imported] = name
                todo.append((file, imported))
    chain, step = [], module
    while step is not None:
        chain.append(step)
        step = came_from.get(step)
    return " → ".join([f"{script}.py", *reversed(chain)])


def within(module: str, package: str) -> bool:
    """Whether ``module`` is ``package`` or lies beneath it."""
    return module == package or module.startswith(package + ".")


def assert_closure_avoids(script: str, forbidden: Callable[[str], bool], why: str) -> None:
    """No module of the script's closure is ``forbidden`` (a predicate on dotted names); name each one and how."""
    offenders = sorted(name for name in script_closure(script) if forbidden(name))
    assert not offenders, f"{script}'s digest covers {why}:\n" + "\n".join(
        import_chain(script, name) for name in offenders
    )


def imported_packages(path: Path) -> set[str]:
    """Top-level names of everything a file imports, lazy imports inside functions included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("script", ["train", "train_all"])
def test_training_runs_no_config_checks_reporting_or_robustness_code(script):
    """A config error message, a table or a robustness measure must not retrain the paper's 54 runs."""
    assert_closure_avoids(
        script,
        lambda name: name.startswith("rnnrobust.config."),
        "config checking, file layering or the config CLI (the typed settings are rnnrobust.config itself)",
    )
    assert_closure_avoids(script, lambda name: within(name, "rnnrobust.reporting"), "reporting code")
    assert_closure_avoids(script, lambda name: within(name, "rnnrobust.robustness"), "robustness code")
    users = sorted(
        name
        for name, path in {script: SCRIPTS / f"{script}.py", **script_closure(script)}.items()
        if "jsonschema" in imported_packages(path)
    )
    assert not users, f"{script}'s digest covers modules that import jsonschema (config checks): {users}"


#: The perturbation stage's products, Table 4 and Figures 7 and 8: how the names of their reporting modules start.
PERTURBATION_PRODUCTS = ("table4", "figure7", "figure8")


def is_perturbation_code(module: str) -> bool:
    """The perturbation stage, the ε₅ reduction, and the reporting of their products and text."""
    last = module.rsplit(".", 1)[-1]
    if within(module, "rnnrobust.robustness.perturbation") or "eps5" in last:
        return True
    return within(module, "rnnrobust.reporting") and ("perturbation" in last or last.startswith(PERTURBATION_PRODUCTS))


def test_the_pseudospectra_figure_runs_no_perturbation_code():
    """An edit to the perturbation stage or the ε₅ reduction must not redraw Figures 1–6."""
    assert_closure_avoids("figure_pseudospectra", is_perturbation_code, "perturbation or ε₅ code")


def test_the_perturbation_job_runs_neither_the_cuda_graph_step_nor_the_training_loop():
    """An edit to how a model trains must not rerun the perturbation of the models already trained."""
    training_only = ("rnnrobust.training.graphed", "rnnrobust.training.loop")
    assert_closure_avoids("perturb", lambda name: name in training_only, "training-only code")


# ---------------------------------------------------------------------------------------------
# The house rules: package files, layers, sizes
# ---------------------------------------------------------------------------------------------


def test_package_inits_import_no_submodules():
    """A package's ``__init__`` is in the digest of every module beneath it: it imports none of them.

    A package that is the public face of private modules (``rnnrobust.spectra``) may import its own ``_*``
    modules, and nothing else beneath it.
    """
    offenders = []
    for init in sorted(LIBRARY.rglob("__init__.py")):
        package = module_name(init)
        for imported in provenance.direct_imports(init, SRC, package):
            if not imported.startswith(package + "."):
                continue
            private = imported.count(".") == package.count(".") + 1 and imported.rsplit(".", 1)[1].startswith("_")
            if not private:
                offenders.append(f"{package} imports {imported}")
    assert not offenders, "\n".join(offenders)


#: The floor (layer 0): modules every layer may import.
FLOOR = {"layout", "io", "stats", "correlation", "progress", "provenance", "runs", "job"}
#: The stage packages and their layers.
PACKAGE_LAYERS = {"config": 1, "data": 2, "spectra": 2, "training": 3, "networks": 3, "robustness": 4, "reporting": 5}
#: Entry points (layer 6): the CLIs, and the deprecated shim of the old training import path.
ENTRY_POINTS = {"rnnrobust.status", "rnnrobust.resources", "rnnrobust.train", "rnnrobust.analyze"}
LAYER_NAMES = ["floor", "config", "data/spectra", "training/networks", "robustness", "reporting", "entry point"]


def layer(module: str) -> int | None:
    """The layer of a library module (None for a module the layers do not place)."""
    parts = module.split(".")
    if module in ENTRY_POINTS or parts[-1] == "__main__":
        return 6
    if len(parts) == 1 or parts[1] in FLOOR:
        return 0
    return PACKAGE_LAYERS.get(parts[1])


def test_every_library_module_has_a_layer():
    unplaced = [name for name in library_files() if layer(name) is None]
    assert not unplaced, f"modules in no layer (place them in test_house.py's FLOOR or PACKAGE_LAYERS): {unplaced}"


def test_imports_go_down_the_layers():
    """floor 0 < config 1 < data, spectra 2 < training 3 < robustness 4 < reporting 5 < entry points 6."""
    offenders = []
    for name, path in library_files().items():
        own = layer(name)
        for imported in provenance.direct_imports(path, SRC, name):
            theirs = layer(imported)
            if own is not None and theirs is not None and theirs > own:
                offenders.append(f"{name} ({LAYER_NAMES[own]}) imports {imported} ({LAYER_NAMES[theirs]})")
    assert not offenders, "\n".join(offenders)


def test_nothing_imports_the_deprecated_training_shim():
    """``rnnrobust.train`` re-exports the training API under its old path for users; the project never uses it."""
    files = {name: path for name, path in library_files().items() if name != "rnnrobust.train"}
    files |= {f"workflow/scripts/{path.name}": path for path in sorted(SCRIPTS.glob("*.py"))}
    users = [
        name
        for name, path in files.items()
        if "rnnrobust.train" in provenance.direct_imports(path, SRC, name if name.startswith("rnnrobust") else None)
    ]
    assert not users, f"imported from the deprecated rnnrobust.train: {users}"


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def sized_files() -> dict[str, Path]:
    """The library modules the size limits hold for: all but spectra's single numerical kernels."""
    return {name: path for name, path in library_files().items() if not within(name, "rnnrobust.spectra")}


def test_no_library_module_is_over_400_lines():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in sized_files().items()}
    offenders = sorted((lines, name) for name, lines in sizes.items() if lines > MAX_MODULE_LINES)
    assert not offenders, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(
        f"{lines:5d}  {name}" for lines, name in reversed(offenders)
    )


def functions(node: ast.AST, prefix: str = ""):
    """``(qualified name, node)`` of every function and method below ``node``, nested ones included."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + child.name, child
            yield from functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            yield from functions(child, f"{prefix}{child.name}.")
        else:
            yield from functions(child, prefix)


def test_no_library_function_is_over_60_lines():
    offenders = []
    for module, path in sized_files().items():
        for name, node in functions(ast.parse(path.read_text(encoding="utf-8"))):
            lines = node.end_lineno - node.lineno + 1  # from `def` to its last line, docstring included
            if lines > MAX_FUNCTION_LINES:
                offenders.append((lines, f"{module}.{name} (line {node.lineno})"))
    assert not offenders, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(
        f"{lines:5d}  {where}" for lines, where in sorted(offenders, reverse=True)
    )
