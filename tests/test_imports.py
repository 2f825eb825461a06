"""The layering of the one `semsearch` package: api -> search -> indexer, no circles, one
home per heavy library, and an `import semsearch` that loads none of them."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The repository's folders and the import package each one installs as.
PACKAGES = {"indexer": "semsearch.indexer", "search": "semsearch.search",
            "api": "semsearch.api", "semsearch": "semsearch"}
HEAVY = {"torch", "sentence_transformers", "transformers", "onnxruntime", "faiss"}


def _module_name(path: Path) -> str:
    folder, *rest = path.relative_to(REPO).with_suffix("").parts
    parts = [PACKAGES[folder], *rest]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def _modules(folder: str) -> list[str]:
    return [_module_name(path) for path in _sources(folder) if path.name != "__main__.py"]


ALL_SOURCES = [path for folder in PACKAGES for path in _sources(folder)]
PROJECT_MODULES = {_module_name(path) for path in ALL_SOURCES}


def _loaded_after_importing(modules: list[str], cwd: Path = REPO) -> set[str]:
    """Module names in sys.modules of a fresh interpreter after importing `modules`."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported_names(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in the file (lazy imports in functions too),
    except under `if TYPE_CHECKING:`; `from package import module` names the module."""
    names: set[str] = set()
    package = _module_name(path).rpartition(".")[0] if path.name != "__init__.py" \
        else _module_name(path)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names
                         if f"{base}.{alias.name}" in PROJECT_MODULES)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return names


def _project_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a submodule import names its package's
    module only when that module is what is imported)."""
    graph = {}
    for path in ALL_SOURCES:
        if path.name == "__main__.py":
            continue
        imported = _imported_names(path) & PROJECT_MODULES
        graph[_module_name(path)] = imported - {_module_name(path), "semsearch"}
    return graph


def _layer(module: str) -> str:
    """indexer, search or api for their modules; `semsearch` for the façade, the CLI,
    settings and the client; the top-level name for anything else."""
    parts = module.split(".")
    if parts[0] == "semsearch" and len(parts) > 1 and parts[1] in ("indexer", "search", "api"):
        return parts[1]
    return parts[0]


def test_wheel_paths_map_to_one_package() -> None:
    assert {_layer(m) for m in PROJECT_MODULES} == {"indexer", "search", "api", "semsearch"}


def test_import_semsearch_loads_no_heavy_library() -> None:
    """The façade is lazy: its names load their modules on first use."""
    loaded = _tops(_loaded_after_importing(["semsearch"]))
    assert not HEAVY & loaded


def test_importing_indexer_and_search_loads_no_model_library() -> None:
    """torch, sentence-transformers and onnxruntime load on first use, so `import` is
    cheap."""
    loaded = _tops(_loaded_after_importing(_modules("indexer") + _modules("search")))
    assert not {"torch", "sentence_transformers", "transformers", "onnxruntime"} & loaded


def test_indexer_alone_loads_neither_search_nor_api() -> None:
    loaded = _loaded_after_importing(_modules("indexer"))
    assert "semsearch.indexer" in loaded
    assert not {m for m in loaded if _layer(m) in ("search", "api")}
    assert "fastapi" not in _tops(loaded)


def test_search_does_not_load_api() -> None:
    loaded = _loaded_after_importing(_modules("search"))
    assert {"semsearch.search", "semsearch.indexer"} <= loaded
    assert not {m for m in loaded if _layer(m) == "api"}
    assert not {"fastapi", "uvicorn"} & _tops(loaded)


def test_api_imports_cleanly() -> None:
    loaded = _loaded_after_importing(_modules("api"))
    assert {"semsearch.api", "semsearch.search", "semsearch.indexer"} <= loaded


# Which layers each layer may import: api -> search -> indexer, and the edge (façade,
# CLI, settings, client) above them all. api reads the one Settings object.
ALLOWED = {
    "indexer": {"indexer"},
    "search": {"search", "indexer"},
    "api": {"api", "search", "indexer", "semsearch.settings"},
    "semsearch": {"semsearch", "api", "search", "indexer"},
}


@pytest.mark.parametrize("module", sorted(_project_graph()))
def test_imports_follow_the_layers(module: str) -> None:
    allowed = ALLOWED[_layer(module)]
    for imported in _project_graph()[module]:
        assert _layer(imported) in allowed or imported in allowed, f"{module} -> {imported}"


def test_no_import_circles() -> None:
    """No module reaches itself through imports, however lazy (Tarjan's components)."""
    graph = _project_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    assert not circles, circles


def test_api_sources_use_no_storage_or_model_library_directly() -> None:
    forbidden = {"faiss", "sqlite3", "sqlite_utils", "sentence_transformers", "torch",
                 "transformers"}
    for path in _sources("api"):
        names = _tops(_imported_names(path))
        assert not forbidden & names, f"{path} imports {forbidden & names}"


@pytest.mark.parametrize("library, owners", [
    ("faiss", {"semsearch.indexer.vector_index"}),
    ("sqlite3", {"semsearch.indexer.store", "semsearch.indexer.fts"}),
    ("sqlite_utils", {"semsearch.indexer.store"}),
    ("sentence_transformers", {"semsearch.indexer.encoders.torch_backend",
                               "semsearch.indexer.encoders.cross_encoder"}),
    ("onnxruntime", {"semsearch.indexer.encoders.onnx_runtime",
                     "semsearch.indexer.encoders.onnx_export"}),
])
def test_each_library_has_one_home(library: str, owners: set[str]) -> None:
    users = {_module_name(path) for path in ALL_SOURCES
             if library in _tops(_imported_names(path))}
    assert users <= owners


def test_semsearch_imports_from_a_folder_with_lookalike_names(tmp_path: Path) -> None:
    """A user's own api/, search.py and cli.py neither shadow nor are shadowed."""
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "__init__.py").write_text("MINE = True\n")
    (tmp_path / "search.py").write_text("MINE = True\n")
    (tmp_path / "cli.py").write_text("MINE = True\n")
    (tmp_path / "indexer.py").write_text("MINE = True\n")
    code = (
        "import json, semsearch, api, search, cli, indexer\n"
        "from semsearch import Searcher, create_app, sync_folder\n"
        "from semsearch.cli import app\n"
        "print(json.dumps([api.MINE, search.MINE, cli.MINE, indexer.MINE,\n"
        "                  Searcher.__module__, create_app.__module__]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, True, True, True,
                                         "semsearch.search.searcher", "semsearch.api.app"]


@pytest.mark.slow
def test_the_wheel_holds_one_top_level_package(tmp_path: Path) -> None:
    """`pip install .` puts exactly `semsearch` (and its dist-info) in site-packages."""
    import shutil

    source = tmp_path / "source"  # setuptools writes build/ beside what it builds
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "tests", "corpus", "benchmarks", "docs", "build", "*.egg-info",
        "__pycache__", ".*_cache"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(source)], capture_output=True, text=True, timeout=300,
        check=False)
    assert result.returncode == 0, result.stderr
    import zipfile

    (wheel,) = tmp_path.glob("semsearch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"semsearch"}
    assert "semsearch/api/static/index.html" in names
    assert "semsearch/indexer/store.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "semsearch = semsearch.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    # The license as an SPDX expression, with its text and the NOTICE (PEP 639).
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA")))
    assert "License-Expression: Apache-2.0" in metadata.decode().splitlines()
    licenses = {n.rsplit("/", 1)[1] for n in names if "dist-info/licenses/" in n}
    assert licenses == {"LICENSE", "NOTICE"}
