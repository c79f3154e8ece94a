"""Completion of one-shot commands (`mismartera sys<Tab>`) in bash, zsh and fish, from the command
registry through the REPL's own completer — groups, commands, options and values (stored symbols,
run ids, configs, files, dates, choices) complete the same in the shell and at the prompt.

A shell's completion function runs `mismartera` with `_MISMARTERA_COMPLETE=<shell>` and the line up
to the cursor in `COMP_LINE`; mismartera prints one candidate per line and exits. `mismartera
--install-completion [SHELL]` writes the shell's script where that shell looks for it (and, for bash
and zsh, one line in the rc file); `--show-completion [SHELL]` prints it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from mismartera.cli.completer import CompletionData, ShellCompleter, Snapshot, load_from_store
from mismartera.commands import load_all
from mismartera.commands.context import AppContext
from mismartera.config.settings import load_settings
from mismartera.errors import UsageError

ENV_VAR = "_MISMARTERA_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
PROGRAM = "mismartera"

BASH = """# mismartera completion for bash (mismartera --install-completion bash)
_mismartera_complete() {
    local IFS=$'\\n'
    COMPREPLY=( $(env _MISMARTERA_COMPLETE=bash COMP_LINE="${COMP_LINE:0:COMP_POINT}" mismartera 2>/dev/null) )
}
complete -o default -o nosort -F _mismartera_complete mismartera 2>/dev/null || \\
    complete -o default -F _mismartera_complete mismartera
"""

ZSH = """#compdef mismartera
# mismartera completion for zsh (mismartera --install-completion zsh)
_mismartera() {
    local -a candidates
    candidates=( ${(f)"$(env _MISMARTERA_COMPLETE=zsh COMP_LINE="${BUFFER[1,CURSOR]}" mismartera 2>/dev/null)"} )
    if (( ${#candidates} )); then
        compadd -- "${candidates[@]}"
    else
        _files
    fi
}
compdef _mismartera mismartera
"""

FISH = """# mismartera completion for fish (mismartera --install-completion fish)
function __mismartera_complete
    env _MISMARTERA_COMPLETE=fish COMP_LINE=(commandline -cp) mismartera 2>/dev/null
end
complete -c mismartera -f -a '(__mismartera_complete)'
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH}


def script(shell: str) -> str:
    if shell not in SCRIPTS:
        raise UsageError(f"no completion for shell {shell!r} (expected one of: {', '.join(SHELLS)})")
    return SCRIPTS[shell]


def detect_shell(environ: Mapping[str, str]) -> str:
    name = Path(environ.get("SHELL", "")).name
    if name not in SCRIPTS:
        raise UsageError(f"cannot tell your shell from SHELL={environ.get('SHELL', '')!r} "
                         f"(name it: mismartera --install-completion {'|'.join(SHELLS)})")
    return name


def candidates(line: str, environ: Mapping[str, str]) -> list[str]:
    """What completes the last word of `line` (a command line starting with the program's name)."""
    words = line.split(maxsplit=1)
    text = words[1] if len(words) > 1 else ("" if line.endswith(" ") else None)
    if text is None:   # still on the program's name
        return []
    if line.endswith(" ") and not text.endswith(" "):
        text += " "
    registry = load_all()
    data = CompletionData(lambda: _stored(environ) or Snapshot())
    data.refresh_now()
    completer = ShellCompleter(registry, data, config_dirs=[Path("config")])
    current = "" if not text or text[-1].isspace() else text.split()[-1]
    found: list[str] = []
    for completion in completer.get_completions(Document(text, len(text)), CompleteEvent(completion_requested=True)):
        kept = len(current) + completion.start_position
        word = current[:max(0, kept)] + completion.text
        cmd = registry.get("", word) if not text.strip() or text.split()[0] == current else None
        if cmd is not None and cmd.interactive_only:
            continue   # `clear`, `exit`, `history`: the shell only
        if word not in found:
            found.append(word)
    return found


def _stored(environ: Mapping[str, str]) -> Snapshot | None:
    """Stored symbols and runs, when a database exists (completion never creates or migrates one)."""
    try:
        settings = load_settings(dict(environ))
        if settings.db_url.startswith("sqlite:///") and not Path(settings.db_url.removeprefix("sqlite:///")).is_file():
            return None
        ctx = AppContext(settings)
        try:
            return load_from_store(lambda: ctx.bars)()
        finally:
            ctx.close()
    except Exception:   # completion must never fail loudly
        return None


def install(shell: str, environ: Mapping[str, str]) -> list[str]:
    """Write the completion script for `shell` and hook it in; returns what was done, one line each.
    Running it again changes nothing."""
    home = Path(environ.get("HOME") or Path.home())
    text = script(shell)
    done: list[str] = []
    if shell == "fish":   # fish loads completions/<program>.fish by itself
        config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        target = config / "fish" / "completions" / f"{PROGRAM}.fish"
        rc, hook = None, ""
    elif shell == "zsh":
        target = home / ".zfunc" / f"_{PROGRAM}"
        rc = home / ".zshrc"
        hook = "fpath+=~/.zfunc; autoload -Uz compinit; compinit"
    else:
        target = home / ".bash_completions" / f"{PROGRAM}.sh"
        rc = home / ".bashrc"
        hook = f"source {target}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        done.append(f"wrote {target}")
        if rc is not None:
            existing = rc.read_text(encoding="utf-8") if rc.is_file() else ""
            if hook not in existing:
                with rc.open("a", encoding="utf-8") as handle:
                    handle.write(("" if not existing or existing.endswith("\n") else "\n") + hook + "\n")
                done.append(f"added to {rc}: {hook}")
            else:
                done.append(f"{rc} already loads it")
    except OSError as exc:
        raise UsageError(f"cannot install the {shell} completion: {exc.strerror or exc}") from None
    done.append(f"open a new {shell} to use it (mismartera <Tab>)")
    return done


def handle(args: list[str], environ: Mapping[str, str]) -> int | None:
    """The completion side of the entry point: answer a completion request, or run
    --install-completion / --show-completion. None when `args` are for something else."""
    shell = environ.get(ENV_VAR)
    if shell:
        for word in candidates(environ.get("COMP_LINE", PROGRAM + " "), environ):
            print(word)
        return 0
    if not args or args[0] not in ("--install-completion", "--show-completion"):
        return None
    if len(args) > 2:
        raise UsageError(f"{args[0]} takes one shell name at most", f"{args[0]} [{'|'.join(SHELLS)}]")
    chosen = args[1] if len(args) == 2 else detect_shell(environ)
    if args[0] == "--show-completion":
        sys.stdout.write(script(chosen))
    else:
        for line in install(chosen, environ):
            print(line)
    return 0
