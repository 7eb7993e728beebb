"""``motcua-web [--config FILE]``: the manager's console and the citizens' queue pages, until SIGTERM."""

from __future__ import annotations

import logging
import sys
import threading

from motcua.runtime.daemon import daemon_main
from motcua.settings import EX_CONFIG, SettingsError

from .settings import WebSettings

log = logging.getLogger("web")


def run(settings: WebSettings, stop: threading.Event) -> int:
    import uvicorn

    from .service import build

    try:
        app, live = build(settings)
    except SettingsError as exc:
        log.error("invalid settings: %s", exc)
        return EX_CONFIG
    for key, path in (("tls.cert_file", settings.tls and settings.tls.cert_file),
                      ("tls.key_file", settings.tls and settings.tls.key_file)):
        if path and not path.is_file():
            log.error("invalid settings: %s: cannot read %s (motcua broker gen-certs makes the site's)", key, path)
            return EX_CONFIG
    config = uvicorn.Config(app, host=settings.listen_host, port=settings.listen_port, log_level="warning",
                            access_log=False, server_header=False, proxy_headers=False, lifespan="on",
                            timeout_graceful_shutdown=2,
                            ssl_certfile=str(settings.tls.cert_file) if settings.tls else None,
                            ssl_keyfile=str(settings.tls.key_file) if settings.tls else None)
    server = uvicorn.Server(config)

    def ready_when_listening() -> None:
        while not server.started and not server.should_exit:
            stop.wait(0.05)
        if server.started:
            scheme = "https" if settings.tls else "http"
            live.client.runtime.ready(f"web on {scheme}://{settings.listen_host}:{settings.listen_port}")
            log.info("serving %s://%s:%d for site %s", scheme, settings.listen_host, settings.listen_port, settings.site)

    def stop_on_request() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=ready_when_listening, daemon=True, name="ready").start()
    threading.Thread(target=stop_on_request, daemon=True, name="stop").start()
    server.run()
    return 0 if server.started else 1


def main(argv: list[str] | None = None) -> int:
    return daemon_main("motcua-web", "web", WebSettings, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
