"""`python -m streams.dev.screenshots [--out docs/screenshots]`: the README's pictures of every page, refreshed.

The synthetic trial, anchored so its last data arrive now (streams.dev.synthetic.anchored_start), is replayed
offline (safety replay); the worker's own page handlers (streams.web.pages behind streams.web.guard) serve the
result on a loopback port, and headless Debian chromium (playwright, ``make browser``) opens each page as the role
that uses it (a role token in the Authorization header) and saves its first screen, 1280 x 800, as PNG. The summary's
A4 PDF is rendered to PNG with pdftoppm (poppler-utils) when it is installed. No broker, no worker process.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from safety.vocab import ROLES

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1280, 800
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def shots(data: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, str]]:
    """(file name, role, path) of each page, the alert and subject pages chosen from the trial's own alerts."""
    alerts = data["alerts"]
    first = {kind: next((a for a in alerts if a["kind"] == kind), None) for kind in ("DLT", "SAE", "HYS_LAW")}
    pages = [
        ("overview.png", "safety_officer", "/overview"),
        ("alerts.png", "safety_officer", "/alerts"),
        ("overdue.png", "safety_officer", "/reports/overdue"),
        ("ae-listing.png", "safety_officer", "/listings/ae"),
        ("lab-listing.png", "safety_officer", "/listings/labs"),
        ("edish.png", "safety_officer", "/edish"),
        ("ethics.png", "ethics", "/ethics"),
        ("ethics-feed.png", "ethics", "/feeds/ethics.html"),
        ("summary.png", "ethics", "/reports/safety-summary.html"),
    ]
    if first["DLT"] is not None:
        pages.insert(2, ("alert.png", "pi", f"/alerts/{first['DLT']['alert_id']}"))
        pages.insert(3, ("subject.png", "pi", f"/subjects/{first['DLT']['subject_id']}"))
    return pages


def replay_trial(work: Path, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The anchored synthetic trial through `safety replay`; its events, graded rows and alerts as JSON."""
    from streams.cli.replay import run
    from streams.dev.synthetic import anchored_start, generate_trial, to_jsonl

    trial = work / "trial.jsonl"
    trial.write_text(to_jsonl(generate_trial(start=anchored_start(now))), encoding="utf-8")
    if run(trial, work / "replay", None, quiet=True, progress=False) != 0:
        raise click.ClickException(f"the replay of {trial} failed")
    return {
        name: [json.loads(line) for line in (work / "replay" / f"{name}.jsonl").read_text("utf-8").splitlines() if line]
        for name in ("events", "graded", "alerts")
    }


@contextmanager
def serve(data: dict[str, list[dict[str, Any]]], now: datetime, tokens: dict[str, str]) -> Iterator[str]:
    """The worker's page handlers and guard over ``data`` on a loopback port, in a thread; yields the base URL."""
    from aiohttp import web

    from safety.reports import StoppingParams, build_report
    from streams.rulefiles import load_ruleset
    from streams.web.guard import Guard, install
    from streams.web.pages import Pages, add_routes

    rules = load_ruleset()
    stopping = StoppingParams.of(rules.protocol)

    def source(at: datetime) -> tuple[Any, list[Any], list[Any]]:
        report = build_report(
            data["events"], data["alerts"], study_id=rules.protocol.study_id, generated_at=at, stopping=stopping,
            tz=rules.tz,
        )  # fmt: skip
        return report, data["events"], data["graded"]

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        app = web.Application()
        install(app, Guard(tokens=tokens, sessions=None, clock=lambda: now))
        add_routes(app.router, Pages(source, tokens, clock=lambda: now, tz=rules.tz, rules=lambda: rules))
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        holder["runner"], holder["port"] = runner, runner.addresses[0][1]
        ready.set()

    def run_loop() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run_loop, daemon=True)
    thread.start()
    if not ready.wait(30):
        raise click.ClickException("the page server did not start within 30 s")
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(20)


def take(base: str, pages: list[tuple[str, str, str]], tokens: dict[str, str], out: Path) -> list[Path]:
    """Open each page as its role in headless chromium and save the first screen; a page that does not answer 200
    stops the run (a picture of an error page is not a picture of the page)."""
    from playwright.sync_api import sync_playwright

    by_role = {role: token for token, role in tokens.items()}
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name, role, path in pages:
                context = browser.new_context(
                    viewport={"width": WIDTH, "height": HEIGHT},
                    extra_http_headers={"Authorization": f"Bearer {by_role[role]}"},
                )
                page = context.new_page()
                page.set_default_navigation_timeout(300_000)  # the lab listing is long; a loaded machine is slow
                response = page.goto(f"{base}{path}")
                if response is None or response.status != 200:
                    raise click.ClickException(f"{path} answered {response.status if response else 'nothing'}")
                page.screenshot(path=str(out / name))
                written.append(out / name)
                context.close()
        finally:
            browser.close()
    return written


def pdf_pages(base: str, tokens: dict[str, str], out: Path, work: Path) -> list[Path]:
    """The first page of the summary's A4 PDF as PNG (pdftoppm); none when poppler-utils is missing."""
    import urllib.request

    if shutil.which("pdftoppm") is None:
        print("pdftoppm is missing (poppler-utils): no picture of the PDF", file=sys.stderr)
        return []
    token = next(t for t, role in tokens.items() if role == "ethics")
    request = urllib.request.Request(f"{base}/reports/safety-summary.pdf", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own loopback server
        (work / "summary.pdf").write_bytes(response.read())
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(work / "summary.pdf"),
         str(out / "summary-pdf")],
        check=True,
    )  # fmt: skip
    return [out / "summary-pdf.png"]


@click.command(help="Refresh the README's screenshots of every page (docs/screenshots/*.png).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=ROOT / "docs" / "screenshots",
    help="folder of the PNG files (default docs/screenshots)",
)
def main(out: Path) -> None:
    if not CHROMIUM.exists():
        raise click.ClickException(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    now = datetime.now(UTC)
    tokens: dict[str, str] = {secrets.token_urlsafe(32): role for role in ROLES}
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = replay_trial(work, now)
        with serve(data, now, tokens) as base:
            written = take(base, shots(data), tokens, out) + pdf_pages(base, tokens, out, work)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
