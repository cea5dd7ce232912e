"""The shape of the library: no import cycles, and the project's nouns spelled in one place."""

import ast
import re
from pathlib import Path

from rnnrobust import provenance

SRC = Path(__file__).resolve().parents[1] / "src"
LIBRARY = SRC / "rnnrobust"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_library_has_no_import_cycle():
    graph = {}
    for path in LIBRARY.rglob("*.py"):
        name = module_name(path)
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
