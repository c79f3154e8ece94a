"""The `mismartera` entry point: `--version` fast path, then the one-shot CLI or the shell.

Kept thin: it builds the process runtime and hands over. Nothing below `mismartera.cli` imports it.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-V"]):
        from mismartera import __version__

        print(f"mismartera {__version__}")
        return 0

    from rich.console import Console

    from mismartera.cli import runtime
    from mismartera.cli.logs import setup_logging
    from mismartera.cli.progress import progress_factory
    from mismartera.commands.context import AppContext
    from mismartera.config.settings import load_settings
    from mismartera.errors import MismarteraError

    debug = "--debug" in args
    out = Console(highlight=False, soft_wrap=False)
    err = Console(stderr=True, highlight=False)
    try:
        settings = load_settings()
        settings.ensure_dirs()
    except MismarteraError as exc:
        err.print(f"Error: {exc.message}", markup=False, style="bold red")
        return int(exc.exit_code)
    setup_logging(settings.log_file, settings.log_level,
                  secrets=[settings.alpaca.api_key or "", settings.alpaca.secret_key or ""], debug=debug)
    ctx = AppContext(settings, interactive=sys.stdin.isatty(), progress=progress_factory(err),
                     confirm=runtime.ask_yes_no(err))
    runtime.install(runtime.Runtime(ctx=ctx, out=out, err=err, debug=debug))
    try:
        return _one_shot(args)
    finally:
        ctx.close()


def _one_shot(args: list[str]) -> int:
    from mismartera.cli.typer_app import build_app

    app = build_app()
    try:
        app(args=args, prog_name="mismartera", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
