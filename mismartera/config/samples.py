"""The sample session configs that ship inside the package (`mismartera/samples`, the repository's
`config/` folder): finding a config named on the command line, and copying the samples out.

`system start config/example_session.json` works from any folder: a relative path that is not a
file under the current folder is looked up among the samples by its file name, and the caller says
which file it used.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from mismartera.errors import ConfigError, UsageError

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"


def sample_files() -> list[Path]:
    """The shipped sample configs, by name."""
    if not SAMPLES_DIR.is_dir():
        return []
    return sorted(path for path in SAMPLES_DIR.glob("*.json") if path.is_file())


@dataclass(frozen=True)
class FoundConfig:
    path: Path
    asked: str            # the name as given
    sample: bool          # True when the file came from the package's samples, not the current folder

    @property
    def note(self) -> str:
        """What to tell the user about the file used (empty when it is the one they named)."""
        return f"using the sample config {self.path} (no {self.asked} in {Path.cwd()})" if self.sample else ""


def find_config(name: str | Path) -> FoundConfig:
    """The session-config file `name` names: the file itself when it exists, else (for a relative
    path) the shipped sample with the same file name. ConfigError names both places when neither has it."""
    path = Path(name).expanduser()
    if path.exists() or path.is_absolute():
        return FoundConfig(path, str(name), False)
    for sample in sample_files():
        if sample.name == path.name:
            return FoundConfig(sample, str(name), True)
    names = ", ".join(s.name for s in sample_files()) or "none"
    raise ConfigError(f"config file not found: {name} (not in {Path.cwd()}, and no sample of that name; "
                      f"samples: {names})")


def copy_samples(target: str | Path) -> tuple[list[Path], list[Path]]:
    """Copy the samples into `target` (created if needed); files already there are kept.

    Returns (copied, kept)."""
    folder = Path(target).expanduser()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{target} is a file (expected a folder to copy the sample configs into)")
    samples = sample_files()
    if not samples:
        raise ConfigError(f"no sample configs found in {SAMPLES_DIR}; reinstall mismartera")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        copied, kept = [], []
        for sample in samples:
            destination = folder / sample.name
            if destination.exists():
                kept.append(destination)
            else:
                shutil.copyfile(sample, destination)
                copied.append(destination)
    except OSError as exc:
        raise UsageError(f"cannot copy the sample configs to {target}: {exc.strerror or exc}") from None
    return copied, kept
