"""The documentation stays true: a short README, links that resolve, every config key documented, the set-up
commands CI runs, and a rule map that names rules, scripts and modules that exist."""

import itertools
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from rnnrobust.layout import CELLS, TASKS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CONFIGURATION = ROOT / "docs" / "configuration.md"
MAIN_COMMAND = "pip install -e '.[workflow]' && snakemake --cores 8"
TEST_COMMAND = "pip install -e '.[test]' && pytest"
PLACEHOLDERS = {"<task>": TASKS, "<model>": CELLS}

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def prose(path: Path) -> str:
    """A Markdown file without its fenced code blocks."""
    return FENCE.sub("", path.read_text())


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(prose(path)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def table_rows(text: str, header: tuple[str, ...]) -> list[list[str]]:
    """The body rows of every Markdown table whose header cells are ``header``."""
    rows, inside = [], False
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]] if line.startswith("|") else None
        if cells is None:
            inside = False
        elif tuple(cells) == header:
            inside = True
        elif inside and not set("".join(cells)) <= set("-: "):
            rows.append(cells)
    return rows


def test_the_readme_is_read_in_five_minutes():
    lines = README.read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move detail to docs/ (at most 150)"


@pytest.mark.parametrize(
    "path", [README, *DOCS, ROOT / "results" / "README.md"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_relative_link_points_to_a_file_that_exists(path):
    broken = []
    for target in LINK.findall(prose(path)):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked here
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{path.relative_to(ROOT)}: " + "; ".join(broken)


def schema_keys(node: dict, defs: dict, path: str = "", required: bool = True, out=None) -> dict[str, bool]:
    """Every key path of the schema (``<name>`` for a free-form key) → whether its parent requires it."""
    out = {} if out is None else out
    while "$ref" in node:
        node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    properties, needed = {}, set(node.get("required", ()))
    for part in node.get("allOf", ()):
        while "$ref" in part:
            part = defs[part["$ref"].rsplit("/", 1)[-1]]
        properties.update(part.get("properties", {}))
        needed |= set(part.get("required", ()))
    properties.update(node.get("properties", {}))
    if path:
        out[path] = required
    for key, child in properties.items():
        schema_keys(child, defs, f"{path}.{key}" if path else key, key in needed, out)
    if isinstance(node.get("additionalProperties"), dict):
        schema_keys(node["additionalProperties"], defs, f"{path}.<name>", False, out)
    return out


def expand(pattern: str) -> list[str]:
    """``train.<task>.lr`` → one key per task; ``a.{b,c}`` → ``a.b``, ``a.c``."""
    parts = re.split(r"(<task>|<model>|\{[^}]*\})", pattern)
    choices = [
        PLACEHOLDERS[p] if p in PLACEHOLDERS else p[1:-1].split(",") if p.startswith("{") else (p,) for p in parts
    ]
    return ["".join(combo) for combo in itertools.product(*choices)]


def documented_keys() -> dict[str, bool]:
    documented = {}
    for key_cell, required_cell, _ in table_rows(CONFIGURATION.read_text(), ("key", "required", "meaning")):
        assert required_cell in ("yes", "no"), f"{key_cell}: required must be yes or no, not {required_cell!r}"
        for key in expand(key_cell.strip("`")):
            assert key not in documented, f"{key} is documented twice in docs/configuration.md"
            documented[key] = required_cell == "yes"
    return documented


def test_the_configuration_doc_names_every_schema_key_and_no_other():
    schema = yaml.safe_load(SCHEMA.read_text())
    keys = schema_keys(schema, schema.get("$defs", {}))
    leaves = {k for k in keys if not any(other.startswith(k + ".") for other in keys)}
    documented = documented_keys()
    assert not leaves - documented.keys(), (
        f"schema keys missing from docs/configuration.md: {leaves - documented.keys()}"
    )
    assert not documented.keys() - keys.keys(), f"documented keys the schema lacks: {documented.keys() - keys.keys()}"
    wrong = {k for k, required in documented.items() if keys[k] != required}
    assert not wrong, f"required column disagrees with the schema for {sorted(wrong)}"


def test_no_page_repeats_the_config_defaults():
    """config.yaml and the settings' dataclasses hold the values; a table of defaults would be a third copy."""
    for path in [README, *DOCS]:
        for line in prose(path).splitlines():
            cells = [c.strip().lower() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
            assert not ("key" in cells and "default" in cells), f"{path.relative_to(ROOT)}: a table of defaults"


def setup_commands() -> list[str]:
    text = README.read_text()
    section = text.split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL)]


def steps(command: str) -> list[list[str]]:
    return [shlex.split(part) for part in command.split("&&")]


def ci_steps() -> list[list[str]]:
    """.ci/run's commands, ``python3 -m X`` read as ``X`` and pip's ``--quiet`` left out."""
    out = []
    for line in (ROOT / ".ci" / "run").read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words[:2] == ["python3", "-m"]:
            words = words[2:]
        out.append([w for w in words if w not in ("--quiet", "-q")] if words[:1] == ["pip"] else words)
    return [w for w in out if w]


def test_the_readme_set_up_commands_are_the_ones_ci_runs():
    assert setup_commands() == [MAIN_COMMAND, TEST_COMMAND]
    install, run_tests = steps(TEST_COMMAND)
    ci = ci_steps()
    assert install in ci and run_tests in ci, f".ci/run does not run {TEST_COMMAND!r}: {ci}"
    assert ci.index(install) < ci.index(run_tests)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for words in (steps(MAIN_COMMAND)[0], install):
        assert re.fullmatch(r"\.\[(\w+)\]", words[-1])[1] in extras, words


def module_exists(name: str) -> bool:
    path = ROOT / "src" / Path(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_the_rule_map_names_rules_scripts_and_modules_that_exist():
    rules_text = "".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    rules = set(re.findall(r"^\s*rule (\w+):", rules_text, re.MULTILINE))
    scripts = ROOT / "workflow" / "scripts"
    rows = table_rows(README.read_text(), ("rule", "script", "module"))
    assert rows, "README.md has no rule → script → module table"
    missing = []
    for rule_cell, script_cell, module_cell in rows:
        names = re.findall(r"`(\w+)`", rule_cell)
        missing += [f"rule {n}" for n in names if n not in rules]
        mapped = {n: n for n in names} if "<rule>" in script_cell + module_cell else {"": ""}
        for rule in mapped.values():
            for script in re.findall(r"`([^`]+\.py)`", script_cell.replace("<rule>", rule)):
                missing += [] if list(scripts.glob(script)) else [f"script {script}"]
            package = ""
            for token in re.findall(r"`([^`]+)`", module_cell.replace("<rule>", rule)):
                name = token if token.startswith("rnnrobust") else f"{package}.{token}"
                if name.endswith(".*"):
                    name = name[:-2]
                else:
                    package = name.rsplit(".", 1)[0]
                missing += [] if module_exists(name) else [f"module {name}"]
    assert not missing, f"the README's rule map names what does not exist: {sorted(set(missing))}"
