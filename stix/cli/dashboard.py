"""`stix dashboard`: the read-only web page (stix.dashboard); its web stack is imported by the command alone."""

from __future__ import annotations

import typer

from stix.cli.app import app


@app.command()
def dashboard(
    port: str = typer.Option("8765", "--port", help="Port to listen on (0: any free port; the URL is printed)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; beyond loopback it needs "
                             "--allow-remote, and a token (printed once, in the URL) is then required."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow a --host that is not loopback."),
    open_: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
) -> None:
    """Serve a read-only dashboard in the browser: clusters (status, resources, $/hr, autostop, age, last drift
    check), each cluster's nodes, jobs and log tail, managed jobs and their attempts, services, storage, and
    cost per cluster per day. It reads what `stix status`, `queue`, `logs`, `jobs queue`, `serve status`,
    `storage ls` and `cost-report` read, and refreshes itself; Ctrl-C stops it.

    Examples: `stix dashboard`, `stix dashboard --port 9000 --open`,
    `stix dashboard --host 0.0.0.0 --allow-remote` (prints a URL with its token).
    """
    import sys

    from stix.cli.reports import _whole
    from stix.dashboard.server import listen, serve
    from stix.home import StixHome

    number = _whole(port, "--port", 0, 65535)
    listening = listen(host, number, allow_remote)
    print(f"stix dashboard: {listening.url}", flush=True)
    if listening.token:
        print("stix dashboard: the token in this URL is required; it is shown only here", file=sys.stderr, flush=True)
    if open_:
        import webbrowser

        webbrowser.open(listening.url)
    serve(StixHome.from_env(), listening, host)
