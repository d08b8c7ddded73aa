"""``python -m runtime.local`` (``make local``): all of sesame on one machine, a demo campaign and its report."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from urllib.parse import quote

from runtime.local.demo import DemoOptions, Progress, run_demo, serve_forever, start
from runtime.local.processes import REPO_ROOT, LocalStackError
from runtime.local.report import render_text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m runtime.local",
        description="Run sesame locally: moto_server + the dev stack the Pulumi program declares + chalice local, "
        "then a demo campaign over the SES mailbox simulator, its events delivered as signed SNS messages, and a "
        "report from the tracking API. Keeps the API and the web dashboard (its URL, signed in with the local key, is "
        "printed) running until Ctrl-C unless --once.",
    )
    parser.add_argument("--once", action="store_true", help="exit (status 0) after the report")
    parser.add_argument("--recipients", type=int, default=1000, help="demo campaign size (default 1000)")
    parser.add_argument("--port", type=int, help="chalice local port (default: a free port)")
    parser.add_argument("--moto-port", type=int, help="moto_server port (default: a free port)")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default 7; same seed, same events)")
    parser.add_argument(
        "--duplicates", type=float, default=0.05, help="share of events delivered twice (default 0.05, 0-1)"
    )
    parser.add_argument("--in-order", action="store_true", help="deliver events in event-time order")
    parser.add_argument(
        "--presuppressed",
        type=float,
        default=0.02,
        help="share of recipients suppressed up front (default 0.02, at most 0.5)",
    )
    parser.add_argument("--no-webhook", action="store_true", help="deliver events through SQS only")
    parser.add_argument("--no-demo", action="store_true", help="start the stack and serve, no demo campaign")
    parser.add_argument(
        "--state-dir", type=Path, default=REPO_ROOT / ".local", help="logs, key, cert, reports (default: .local)"
    )
    parser.add_argument("--program", type=Path, help="Pulumi entry file (default: the repository's __main__.py)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def dashboard_url(api_url: str, api_key: str) -> str:
    """The dashboard signed in with ``api_key``: the key rides in the URL fragment, which browsers never send to the
    server, and the page removes it from the address bar at once."""
    return f"{api_url.rstrip('/')}/dashboard#key={quote(api_key, safe='')}"


def serving_banner(api_url: str, moto_url: str, api_key: str, state_dir: Path) -> list[str]:
    key_file = state_dir / "api-key"
    return [
        f"sesame API: {api_url}   (moto_server: {moto_url})",
        f"dashboard:  {dashboard_url(api_url, api_key)}",
        f"API key:    {api_key}   (also in {key_file})",
        f'try:        curl -H "Authorization: Bearer $(cat {key_file})" {api_url}/campaigns',
        "Ctrl-C to stop.",
    ]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.recipients < 1:
        print("--recipients must be at least 1", file=sys.stderr)
        return 2
    opts = DemoOptions(
        recipients=args.recipients,
        seed=args.seed,
        duplicate_rate=max(0.0, min(1.0, args.duplicates)),
        out_of_order=not args.in_order,
        presuppressed_rate=max(0.0, min(0.5, args.presuppressed)),
        webhook=not args.no_webhook,
        once=args.once,
        port=args.port,
        moto_port=args.moto_port,
        state_dir=args.state_dir.resolve(),
        program=args.program,
        quiet=args.quiet,
    )
    progress = Progress(args.quiet)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the stack as cleanly as Ctrl-C
    try:
        stack = start(opts, progress)
    except LocalStackError as exc:
        print(f"local stack failed to start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    try:
        if not args.no_demo:
            report = run_demo(stack, progress)
            print()
            print(render_text(report))
            print()
            print(f"HTML report: {opts.state_dir / 'report.html'}")
        if args.once:
            return 0
        print()
        print("\n".join(serving_banner(stack.api_url, stack.moto_url, stack.api_key, opts.state_dir)), flush=True)
        serve_forever(stack, progress)
    except KeyboardInterrupt:
        print("\nstopping", file=sys.stderr)
        return 0
    except (LocalStackError, TimeoutError) as exc:
        print(f"local stack error: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
