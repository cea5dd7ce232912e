"""Which code a workflow job runs, as a digest of its meaning.

A job's result depends on its script and on every ``rnnrobust`` module the script imports,
directly or through other modules. :func:`code_digest` follows those imports in the source and
hashes each file's syntax tree without docstrings, so that a comment, a docstring, a reformat or
a new mtime changes nothing, while any change of behaviour changes the digest. The workflow
passes the digest to each rule as a param (Snakemake reruns a job whose params changed) and the
training checkpoint records it (a checkpoint of other code is never resumed). Stdlib only.

>>> import pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "job.py").write_text("x = 1  # a comment")
>>> before = code_digest(root / "job.py", root)
>>> _ = (root / "job.py").write_text("'A docstring.'\\nx = 1\\n")
>>> code_digest(root / "job.py", root) == before
True
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

PACKAGE = "rnnrobust"


def normalized_source(path: str | Path) -> str:
    """The file's code as ``ast.unparse`` writes it, without docstrings: comments, blank lines,
    formatting and documentation do not show."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def _module_file(name: str, src: Path) -> Path | None:
    base = src.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _with_parents(name: str) -> Iterator[str]:
    """``a.b.c`` imports ``a``, ``a.b`` and ``a.b.c``: every package ``__init__`` on the way runs."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        yield ".".join(parts[:i])


def _imports(path: Path, module: str | None) -> Iterator[str]:
    """Names of the modules a file imports (at any depth: lazy imports inside functions count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if module is None:
                    continue
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            yield base
            for alias in node.names:  # `from pkg import mod` imports the module pkg.mod
                yield f"{base}.{alias.name}"


def direct_imports(path: str | Path, src: str | Path, module: str | None = None) -> dict[str, Path]:
    """The ``rnnrobust`` modules one file imports itself (with the packages on their way), name → file."""
    found: dict[str, Path] = {}
    for name in _imports(Path(path), module):
        if name.split(".")[0] != PACKAGE:
            continue
        for parent in _with_parents(name):
            file = _module_file(parent, Path(src))
            if file is not None:
                found[parent] = file
    return found


def library_modules(script: str | Path, src: str | Path, module: str | None = None) -> dict[str, Path]:
    """Every ``rnnrobust`` module the script imports, transitively, by name → file under ``src``.

    ``module`` is the script's own dotted name when it is a library module (for relative imports).
    """
    return _Reader(src).library_modules(Path(script), module)


def code_digest(script: str | Path, src: str | Path, module: str | None = None) -> str:
    """Digest (16 hex digits) of the script and of every library module it imports, by meaning."""
    return _Reader(src).code_digest(Path(script), module)


def script_digests(scripts: Iterable[str | Path], src: str | Path) -> dict[str, str]:
    """:func:`code_digest` of each script, keyed by its file name without ``.py``.

    The scripts share most of their modules: each file is read and normalised once for all of them.
    """
    reader = _Reader(src)
    return {Path(script).stem: reader.code_digest(Path(script), None) for script in scripts}


class _Reader:
    """One reading of the library below ``src``: each file's imports and normalised source, once."""

    def __init__(self, src: str | Path) -> None:
        self.src = Path(src)
        self._imports: dict[tuple[Path, str | None], dict[str, Path]] = {}
        self._sources: dict[Path, str] = {}

    def direct_imports(self, path: Path, module: str | None) -> dict[str, Path]:
        key = (path, module)
        if key not in self._imports:
            self._imports[key] = direct_imports(path, self.src, module)
        return self._imports[key]

    def normalized_source(self, path: Path) -> str:
        if path not in self._sources:
            self._sources[path] = normalized_source(path)
        return self._sources[path]

    def library_modules(self, script: Path, module: str | None) -> dict[str, Path]:
        found: dict[str, Path] = {}
        todo: list[tuple[Path, str | None]] = [(script, module)]
        while todo:
            path, name = todo.pop()
            for imported, file in self.direct_imports(path, name).items():
                if imported not in found:
                    found[imported] = file
                    todo.append((file, imported))
        return found

    def code_digest(self, script: Path, module: str | None) -> str:
        digest = hashlib.sha256(self.normalized_source(script).encode())
        for name, file in sorted(self.library_modules(script, module).items()):
            digest.update(f"\0{name}\0".encode())
            digest.update(self.normalized_source(file).encode())
        return digest.hexdigest()[:16]


def module_digest(module: str, src: str | Path) -> str:
    """:func:`code_digest` of one library module (e.g. ``rnnrobust.training.loop``) and what it imports."""
    file = _module_file(module, Path(src))
    if file is None:
        raise ValueError(f"no module {module!r} under {src}")
    return code_digest(file, src, module)
