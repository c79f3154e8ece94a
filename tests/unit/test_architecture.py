"""DESIGN.md's import table, enforced: asyncio only in the Alpaca stream adapter, nothing below
`cli/` imports `cli/`, and the lower layers stay below."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mismartera"

# folder -> mismartera packages it must not import
FORBIDDEN = {
    "timekeeping": {"cli", "commands", "system", "data", "execution", "strategies", "report", "integrations"},
    "data": {"cli", "commands", "system", "execution", "strategies", "report"},
    "execution": {"cli", "commands", "system", "strategies"},
    "strategies": {"cli", "commands", "system", "execution", "data"},
    "indicators": {"cli", "commands", "system", "execution", "data", "strategies"},
    "system": {"cli", "commands"},
    "commands": {"cli"},
    "report": {"cli", "commands", "system"},
    "integrations": {"cli", "commands", "system"},
    "sweep": {"cli", "commands"},
    "config": {"cli", "commands", "system", "data", "execution", "timekeeping"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_asyncio_only_in_the_alpaca_stream_adapter() -> None:
    allowed = PACKAGE / "integrations" / "alpaca" / "stream.py"
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if p != allowed and any(n == "asyncio" or n.startswith("asyncio.") for n in imports_of(p))]
    assert offenders == []


def test_layers_import_only_downwards() -> None:
    offenders = []
    for folder, forbidden in FORBIDDEN.items():
        for path in (PACKAGE / folder).rglob("*.py"):
            for name in imports_of(path):
                parts = name.split(".")
                if parts[0] == "mismartera" and len(parts) > 1 and parts[1] in forbidden:
                    offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
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
