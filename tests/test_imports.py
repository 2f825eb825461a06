"""The layering of the packages: indexer <- search <- api, and who may import what."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _modules(package: str) -> list[str]:
    """Every module of `package` under the repository, as dotted names."""
    folder = REPO / package
    names = []
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def _loaded_after_importing(modules: list[str]) -> set[str]:
    """Top-level names in sys.modules of a fresh interpreter after importing `modules`."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _imported_names(path: Path) -> set[str]:
    """Every module name `path` imports (absolute imports, anywhere in the file)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _sources(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def _top_imports(package: str) -> dict[str, set[str]]:
    return {str(p.relative_to(REPO)): {n.split(".")[0] for n in _imported_names(p)}
            for p in _sources(package)}


def test_indexer_alone_loads_neither_search_nor_api() -> None:
    loaded = _loaded_after_importing(_modules("indexer"))
    assert "indexer" in loaded
    assert not {"search", "api", "fastapi"} & loaded


def test_search_does_not_load_api() -> None:
    loaded = _loaded_after_importing(_modules("search"))
    assert {"search", "indexer"} <= loaded
    assert not {"api", "fastapi", "uvicorn"} & loaded


def test_importing_indexer_and_search_loads_no_model_library() -> None:
    """torch and sentence-transformers load on first use, so `import` stays cheap."""
    loaded = _loaded_after_importing(_modules("indexer") + _modules("search"))
    assert not {"torch", "sentence_transformers", "transformers", "onnxruntime"} & loaded


def test_api_imports_cleanly() -> None:
    if not (REPO / "api" / "__init__.py").exists():
        pytest.skip("no api package")
    loaded = _loaded_after_importing(_modules("api"))
    assert {"api", "search", "indexer"} <= loaded


def test_indexer_sources_never_import_search_or_api() -> None:
    for path, names in _top_imports("indexer").items():
        assert not {"search", "api"} & names, path


def test_search_sources_never_import_api() -> None:
    for path, names in _top_imports("search").items():
        assert "api" not in names, path


def test_api_sources_use_no_storage_or_model_library_directly() -> None:
    if not (REPO / "api").is_dir():
        pytest.skip("no api package")
    forbidden = {"faiss", "sqlite3", "sqlite_utils", "sentence_transformers", "torch",
                 "transformers"}
    for path, names in _top_imports("api").items():
        assert not forbidden & names, f"{path} imports {forbidden & names}"


@pytest.mark.parametrize("library, owners", [
    ("faiss", {"indexer/vector_index.py"}),
    ("sqlite3", {"indexer/store.py"}),
    ("sqlite_utils", {"indexer/store.py"}),
    ("sentence_transformers", {"indexer/encoder.py", "search/rerank.py"}),
    ("onnxruntime", {"indexer/onnx_encoder.py"}),
])
def test_each_library_has_one_home(library: str, owners: set[str]) -> None:
    users = {path for package in ("indexer", "search", "api")
             for path, names in _top_imports(package).items() if library in names}
    assert users <= owners
