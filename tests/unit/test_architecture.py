"""DESIGN.md's import table, enforced as an allow-list: each folder of the package imports only the
folders its "may import" column names (plus the leaf modules everyone may use), asyncio only in the
Alpaca stream adapter and the control API, nothing below `cli/` imports `cli/`.

Where the code found a shape DESIGN.md's table does not show yet, the entry says so:
`sources/` (the `MarketDataSource` seam, the live feed, the replay source) sits between `data/` and
`system/`; `integrations/alpaca/` implements it; `execution/alpaca_broker.py` drives
`integrations/alpaca/` and `execution/registry.py` names the brokers; the recorder in `system/`
uses `report/` for the running report; `report/` reads `execution/`'s account types.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mismartera"

# Modules with no engine dependencies of their own that any folder may import.
LEAVES = {"bars", "errors", "suggest", "named", "config", "exchange", "files", "symbols"}

# folder (or top-level module) -> the mismartera packages it may import besides LEAVES and itself
MAY_IMPORT: dict[str, set[str]] = {
    "__main__": {"cli"},
    "__init__": set(),
    "cli": {"commands", "system", "data", "timekeeping", "execution", "strategies", "indicators", "report",
            "sources", "integrations", "api", "sweep"},
    "api": {"system", "commands", "execution", "data", "timekeeping"},
    "commands": {"system", "data", "timekeeping", "execution", "integrations", "report", "strategies", "sweep"},
    "system": {"data", "timekeeping", "execution", "strategies", "indicators", "report", "sources"},
    "sweep": {"system", "data", "timekeeping", "execution", "report", "strategies"},
    "sources": {"data", "timekeeping"},
    "integrations": {"data", "timekeeping", "sources"},
    "execution": {"data", "integrations"},
    "report": {"data", "execution"},
    "data": {"timekeeping"},
    "timekeeping": set(),
    "strategies": set(),
    "indicators": set(),
    # the leaves themselves: config imports only errors, suggest and the other two plain helpers (files,
    # symbols), the rest nothing of the engine
    "config": {"errors", "suggest", "files", "symbols"},
    "bars": set(),
    "errors": set(),
    "suggest": set(),
    "named": set(),
    "exchange": set(),
    "files": set(),      # private (0600/0700) and atomic file writes, one line per OS error
    "symbols": set(),    # the one ticker-symbol rule
}
ASYNCIO_ALLOWED = ("integrations/alpaca/stream.py", "api/")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def owner_of(path: Path) -> str:
    """The MAY_IMPORT key of a module: its top folder, or its own name at the package's top."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else path.stem


def uses_async(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, (ast.AsyncFunctionDef, ast.AsyncWith, ast.AsyncFor, ast.Await))
               for node in ast.walk(tree))


def test_asyncio_only_in_the_alpaca_stream_adapter_and_the_control_api() -> None:
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if not p.relative_to(PACKAGE).as_posix().startswith(ASYNCIO_ALLOWED)
                 and (uses_async(p) or any(n == "asyncio" or n.startswith("asyncio.") for n in imports_of(p)))]
    assert offenders == []


def test_fastapi_and_uvicorn_only_in_the_api() -> None:
    api = PACKAGE / "api"
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if api not in p.parents
                 and any(n.split(".")[0] in ("fastapi", "uvicorn", "starlette") for n in imports_of(p))]
    assert offenders == []


def test_every_module_imports_only_what_its_folder_may() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        owner = owner_of(path)
        assert owner in MAY_IMPORT, f"{path.relative_to(PACKAGE)}: {owner} has no row in MAY_IMPORT (add it)"
        allowed = MAY_IMPORT[owner] | ({owner} if owner == "config" else LEAVES | {owner})
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "mismartera" and len(parts) > 1 and parts[1] not in allowed:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []


def test_nothing_below_cli_imports_cli() -> None:
    assert all("cli" not in allowed for owner, allowed in MAY_IMPORT.items() if owner not in ("__main__",))


def test_system_never_names_a_provider() -> None:
    """Sources and brokers are chosen through their registries: no module of system/ imports one."""
    offenders = [f"{p.relative_to(PACKAGE)} imports {n}" for p in (PACKAGE / "system").rglob("*.py")
                 for n in imports_of(p)
                 if n.startswith(("mismartera.integrations", "mismartera.execution.simulated",
                                  "mismartera.execution.alpaca_broker", "mismartera.sources.replay"))]
    assert offenders == []


def test_only_settings_reads_the_environment() -> None:
    allowed = {PACKAGE / "config" / "settings.py", PACKAGE / "cli" / "main.py"}
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if p not in allowed and "os.environ" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_alpaca_sdk_only_behind_integrations() -> None:
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if "integrations" not in p.parts and any(n.startswith("alpaca") for n in imports_of(p))]
    assert offenders == []
