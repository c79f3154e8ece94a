"""Issue 12, point 9: shell completion of one-shot commands, from the registry — a real bash runs the
script `mismartera --show-completion bash` prints; `--install-completion` writes each shell's script
where that shell looks for it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def on_path(tmp_path: Path, cli_home: Path) -> dict[str, str]:
    """An environment whose PATH has a `mismartera` command (the package is not installed here)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "mismartera"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mismartera "$@"\n')
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MISMARTERA_", "_MISMARTERA"))}
    env.update({"PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "PYTHONPATH": str(ROOT),
                "MISMARTERA_HOME": str(cli_home), "HOME": str(tmp_path / "home"), "SHELL": "/bin/bash"})
    (tmp_path / "home").mkdir()
    return env


def bash_complete(env: dict[str, str], line: str, cwd: Path = ROOT) -> list[str]:
    if env.get("_script") is None:   # the script, fetched once per test
        env["_script"] = subprocess.run(["mismartera", "--show-completion", "bash"], env=env, capture_output=True,
                                        text=True, check=True).stdout
    script = env["_script"]
    words = line.split(" ")
    program = (script + "\nCOMP_LINE=\"$1\"; COMP_POINT=${#1}; read -ra COMP_WORDS <<< \"$1\"; "
               "[[ \"$1\" == *' ' ]] && COMP_WORDS+=(''); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); "
               "_mismartera_complete; printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    result = subprocess.run(["bash", "-c", program, "bash", line], env=env, capture_output=True, text=True,
                            cwd=cwd, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(words) >= 1
    return [w for w in result.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gh12_bash_completes_groups_commands_options_and_values(on_path: dict[str, str],
                                                                 example_bars: Path) -> None:
    assert bash_complete(on_path, "mismartera sys") == ["system"]
    assert set(bash_complete(on_path, "mismartera system st")) == {"start", "stop", "status"}
    assert "--symbols" in bash_complete(on_path, "mismartera system start --")
    assert bash_complete(on_path, "mismartera account orders --status re") == ["rejected"]
    assert bash_complete(on_path, "mismartera data info ") == ["AAPL", "MSFT"]      # stored symbols
    assert bash_complete(on_path, "mismartera strategy show s") == ["sma_crossover"]
    first = bash_complete(on_path, "mismartera ")
    assert {"system", "data", "help", "run"} <= set(first) and "clear" not in first and "exit" not in first


def test_gh12_install_completion_for_each_shell(on_path: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    bash = subprocess.run(["mismartera", "--install-completion"], env=on_path, capture_output=True, text=True)
    assert bash.returncode == 0, bash.stderr
    target = home / ".bash_completions" / "mismartera.sh"
    assert target.read_text().startswith("# mismartera completion for bash")
    assert (home / ".bashrc").read_text().count(f"source {target}") == 1
    again = subprocess.run(["mismartera", "--install-completion", "bash"], env=on_path, capture_output=True,
                           text=True)
    assert again.returncode == 0 and "already loads it" in again.stdout
    assert (home / ".bashrc").read_text().count(f"source {target}") == 1
    zsh = subprocess.run(["mismartera", "--install-completion", "zsh"], env=on_path, capture_output=True, text=True)
    assert zsh.returncode == 0, zsh.stderr
    assert (home / ".zfunc" / "_mismartera").read_text().startswith("#compdef mismartera")
    assert "fpath+=~/.zfunc" in (home / ".zshrc").read_text()
    fish = subprocess.run(["mismartera", "--install-completion", "fish"], env=on_path, capture_output=True,
                          text=True)
    assert fish.returncode == 0, fish.stderr
    assert "complete -c mismartera" in (home / ".config" / "fish" / "completions" / "mismartera.fish").read_text()
    wrong = subprocess.run(["mismartera", "--install-completion", "tcsh"], env=on_path, capture_output=True,
                           text=True)
    assert wrong.returncode == 2 and "expected one of: bash, zsh, fish" in wrong.stderr
    unknown = subprocess.run(["mismartera", "--install-completion"], env={**on_path, "SHELL": "/bin/ksh"},
                             capture_output=True, text=True)
    assert unknown.returncode == 2 and "cannot tell your shell" in unknown.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="needs fish")
def test_gh12_fish_completes_from_the_installed_script(on_path: dict[str, str]) -> None:
    script = subprocess.run(["mismartera", "--show-completion", "fish"], env=on_path, capture_output=True,
                            text=True, check=True).stdout
    for line, expected in (("mismartera system st", {"start", "stop", "status"}),
                           ("mismartera time ho", {"holidays"})):
        result = subprocess.run(["fish", "--no-config", "-c", script + f"\ncomplete -C '{line}'\n"], env=on_path,
                                capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert result.returncode == 0, result.stderr
        assert {row.split("\t")[0] for row in result.stdout.splitlines()} == expected


@pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
def test_gh12_zsh_function_hands_the_candidates_to_compadd(on_path: dict[str, str]) -> None:
    script = subprocess.run(["mismartera", "--show-completion", "zsh"], env=on_path, capture_output=True,
                            text=True, check=True).stdout
    # compadd and compdef exist only inside zsh's completion system: stand-ins print what they get
    program = ("compdef() { :; }\ncompadd() { shift $(( ${@[(i)--]} )); print -l -- \"$@\"; }\n" + script +
               "\nBUFFER='mismartera system st'; CURSOR=${#BUFFER}; _mismartera\n")
    result = subprocess.run(["zsh", "-f", "-c", program], env=on_path, capture_output=True, text=True, cwd=ROOT,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"start", "stop", "status"}
