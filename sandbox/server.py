"""The sandbox HTTP server: routing, the OAuth token endpoint, files, the ledger API, and main()."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .auth import JWT_BEARER, TOKEN_LIFETIME, AuthError, ServiceAccount, TokenStore
from .faults import FaultBook, parse_global
from .gcs import EmulatorProcess
from .heygen import HeyGenService
from .httpkit import Hang, Request, Response, json_response
from .ledger import Ledger
from .render_cache import RenderCache
from .stripe import PRICE_SETTINGS, StripeService
from .veo import VeoService

BUCKET = "sandbox-videos"
PROJECT = "sandbox-project"
MIME = {".mp4": "video/mp4", ".webm": "video/webm", ".srt": "application/x-subrip", ".png": "image/png",
        ".jpg": "image/jpeg", ".mp3": "audio/mpeg", ".wav": "audio/wav"}


class Context:
    """Everything the provider modules share."""

    def __init__(self, args, base_url: str, gcs_client, data_dir: Path):
        self.base_url = base_url
        self.data_dir = data_dir
        self.files_dir = data_dir / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.gcs = gcs_client
        self.tokens = TokenStore()
        self.ledger = Ledger(data_dir / "ledger.jsonl")
        self.faults = FaultBook(parse_global(args.faults or os.environ.get("SANDBOX_FAULTS")),
                                args.transient_fault_count, args.hang_seconds)
        self.veo_latency = args.veo_latency * args.latency_scale
        self.heygen_latency = args.heygen_latency * args.latency_scale
        self.veo_requests_per_minute = args.veo_requests_per_minute
        self.heygen_api_key = args.heygen_api_key or ("sandbox-" + secrets.token_hex(16))
        self.stripe_secret_key = args.stripe_secret_key or ("sk_test_sandbox" + secrets.token_hex(16))
        self.stripe_webhook_secret = args.stripe_webhook_secret or ("whsec_" + secrets.token_hex(24))
        self.executor = ThreadPoolExecutor(max_workers=args.render_workers, thread_name_prefix="render")
        self.render_cache = RenderCache(enabled=args.reuse_renders)
        self.stopping = threading.Event()
        self.verbose = args.verbose
        self._log = open(data_dir / "sandbox.log", "a", buffering=1)

    def log(self, message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {message}"
        self._log.write(line + "\n")
        if self.verbose:
            print(line, file=sys.stderr, flush=True)


class App:
    def __init__(self, ctx: Context, service_account: ServiceAccount, args):
        self.ctx = ctx
        self.sa = service_account
        self.veo = VeoService(ctx)
        self.heygen = HeyGenService(ctx)
        self.stripe = StripeService(ctx, secret_key=ctx.stripe_secret_key, webhook_url=args.stripe_webhook_url,
                                    webhook_secret=ctx.stripe_webhook_secret,
                                    duplicate_events=args.stripe_duplicate_events)

    def dispatch(self, req: Request):
        p = req.path
        if p.startswith("/veo/"):
            return self.veo.handle(req)
        if p.startswith("/heygen/") or p.startswith("/heygen-upload/"):
            return self.heygen.handle(req)
        if p.startswith("/stripe/"):
            return self.stripe.handle(req)
        if p == "/_sandbox/stripe/events" and req.method == "GET":
            return json_response(200, {"events": self.stripe.webhooks.report()})
        if p == "/oauth2/token":
            return self.token(req)
        if p.startswith("/files/"):
            return self.files(req)
        if p.startswith("/assets/"):
            return self.asset(req)
        if p == "/_sandbox/veo/quota" and req.method == "GET":
            return json_response(200, self.veo.quota.report())
        if p == "/_sandbox/health":
            return json_response(200, {"status": "ok"})
        if p == "/_sandbox/ledger" and req.method == "GET":
            return json_response(200, {"entries": self.ctx.ledger.entries()})
        if p == "/_sandbox/reset" and req.method == "POST":
            self.ctx.ledger.reset()
            self.ctx.faults.reset()
            return json_response(200, {"reset": True})
        return json_response(404, {"error": {"code": 404, "message": f"not found: {p}", "status": "NOT_FOUND"}})

    def token(self, req: Request):
        if req.method != "POST":
            return json_response(405, {"error": "invalid_request", "error_description": "POST required"})
        form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != JWT_BEARER:
            return json_response(400, {"error": "unsupported_grant_type",
                                       "error_description": "Invalid grant_type: " + form.get("grant_type", "")})
        try:
            self.sa.verify_assertion(form.get("assertion", ""))
        except AuthError as exc:
            return json_response(400, {"error": exc.error, "error_description": exc.description})
        return json_response(200, {"access_token": self.ctx.tokens.issue(), "expires_in": TOKEN_LIFETIME,
                                   "token_type": "Bearer"})

    def files(self, req: Request):
        if req.method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed", {"Allow": "GET, HEAD", "Content-Type": "text/plain"})
        name = unquote(req.path[len("/files/"):])
        if not name or "/" in name or name.startswith("."):
            return Response(404, b"not found", {"Content-Type": "text/plain"})
        path = self.ctx.files_dir / name
        if not path.is_file():
            return Response(404, b"not found", {"Content-Type": "text/plain"})
        body = path.read_bytes()
        return Response(200, body if req.method == "GET" else b"",
                        {"Content-Type": MIME.get(path.suffix, "application/octet-stream"),
                         **({"X-Content-Length": str(len(body))} if req.method == "HEAD" else {})})


    def asset(self, req: Request):
        from .assets import product_image

        name, _, fmt = unquote(req.path[len("/assets/"):]).rpartition(".")
        if req.method not in ("GET", "HEAD") or "/" in name or fmt not in ("png", "jpg", "jpeg") or not name:
            return Response(404, b"not found", {"Content-Type": "text/plain"})
        body = product_image(name, fmt)
        return Response(200, body if req.method == "GET" else b"",
                        {"Content-Type": "image/png" if fmt == "png" else "image/jpeg"})


def make_handler(app: App):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "video-saas-sandbox/1.0"

        def log_message(self, fmt, *args):
            app.ctx.log(f"{self.address_string()} {fmt % args}")

        def _body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _handle(self):
            parts = urlsplit(self.path)
            req = Request(self.command, parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()},
                          self._body())
            try:
                result = app.dispatch(req)
            except Exception as exc:  # never let a bug kill the connection silently
                app.ctx.log(f"error handling {self.command} {parts.path}: {exc!r}")
                result = json_response(500, {"error": {"code": 500, "message": "sandbox internal error",
                                                       "status": "INTERNAL"}})
            if isinstance(result, Hang):
                app.ctx.log(f"fault: holding {self.command} {parts.path} for {result.seconds}s without answering")
                app.ctx.stopping.wait(result.seconds)
                self.close_connection = True
                return
            self.send_response(result.status)
            for k, v in result.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(result.body) if self.command != "HEAD"
                                                   else int(result.headers.get("X-Content-Length", 0))))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(result.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

    return Handler


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m sandbox", description="Loopback Veo/HeyGen/GCS/Stripe sandbox")
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the sandbox")
    s.add_argument("--port", type=int, default=8900, help="HTTP port (0 = pick a free one)")
    s.add_argument("--gcs-port", type=int, default=9023, help="storage emulator port (0 = pick a free one)")
    s.add_argument("--host", default=os.environ.get("SANDBOX_HOST") or "127.0.0.1",
                   help="address the sandbox and the storage emulator listen on (env SANDBOX_HOST; default "
                        "127.0.0.1; 0.0.0.0 in a container that other containers reach)")
    s.add_argument("--public-url", default=os.environ.get("SANDBOX_PUBLIC_URL") or None,
                   help="the sandbox's address as the product reaches it, in every URL it hands out and in the env "
                        "file (env SANDBOX_PUBLIC_URL; default http://127.0.0.1:PORT), e.g. http://sandbox:8900")
    s.add_argument("--gcs-public-url", default=os.environ.get("SANDBOX_GCS_PUBLIC_URL") or None,
                   help="the storage emulator's address as the product reaches it (env SANDBOX_GCS_PUBLIC_URL; "
                        "default http://127.0.0.1:GCS_PORT)")
    s.add_argument("--latency-scale", type=float, default=1.0, help="multiplies --veo-latency/--heygen-latency")
    s.add_argument("--veo-latency", type=float, default=float(os.environ.get("SANDBOX_VEO_LATENCY") or 75.0),
                   help="seconds until a Veo operation is done (env SANDBOX_VEO_LATENCY)")
    s.add_argument("--heygen-latency", type=float, default=float(os.environ.get("SANDBOX_HEYGEN_LATENCY") or 150.0),
                   help="seconds until a HeyGen video completes (env SANDBOX_HEYGEN_LATENCY)")
    s.add_argument("--veo-requests-per-minute", type=int,
                   default=int(os.environ.get("SANDBOX_VEO_REQUESTS_PER_MINUTE") or 0),
                   help="enforce Vertex's Veo quota: predictLongRunning requests per minute per project, region and "
                        "model, answering 429 RESOURCE_EXHAUSTED beyond it, as Vertex does (0 = no quota)")
    s.add_argument("--env-file", default=None, help="where to write KEY=VALUE lines (default DATA_DIR/sandbox.env)")
    s.add_argument("--data-dir", default=os.environ.get("SANDBOX_DATA_DIR") or None,
                   help="key, ledger, rendered files (env SANDBOX_DATA_DIR; default: a temp dir)")
    s.add_argument("--hang-seconds", type=float, default=30.0, help="how long hang/lost_response hold a connection")
    s.add_argument("--faults", default=None,
                   help="global faults, e.g. '429,veo:safety,heygen:render_failed' (env SANDBOX_FAULTS)")
    s.add_argument("--transient-fault-count", type=int, default=1,
                   help="how many first submits of a request a 429/500/hang/lost_response fault hits")
    s.add_argument("--heygen-api-key", default=os.environ.get("SANDBOX_HEYGEN_API_KEY"),
                   help="fixed HeyGen API key (default: random)")
    s.add_argument("--stripe-webhook-url", default=os.environ.get("SANDBOX_STRIPE_WEBHOOK_URL"),
                   help="where Stripe events are POSTed (env SANDBOX_STRIPE_WEBHOOK_URL; default: not delivered)")
    s.add_argument("--stripe-webhook-secret", default=os.environ.get("SANDBOX_STRIPE_WEBHOOK_SECRET"),
                   help="the secret events are signed with (env SANDBOX_STRIPE_WEBHOOK_SECRET; default: random)")
    s.add_argument("--stripe-secret-key", default=os.environ.get("SANDBOX_STRIPE_SECRET_KEY"),
                   help="the API key Stripe requests must carry (default: random)")
    s.add_argument("--stripe-duplicate-events", action="store_true",
                   help="deliver every Stripe event twice (Stripe may)")
    s.add_argument("--render-workers", type=int,
                   default=int(os.environ.get("SANDBOX_RENDER_WORKERS") or min(2, os.cpu_count() or 1)),
                   help="renders (ffmpeg processes) run at once; further jobs wait in a FIFO queue "
                        "(env SANDBOX_RENDER_WORKERS; default min(2, CPUs))")
    s.add_argument("--reuse-renders", action="store_true",
                   help="identical requests reuse an earlier render (for benchmarks of the caller)")
    s.add_argument("--verbose", action="store_true")
    return ap


def serve(args) -> int:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="video-saas-sandbox-")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env_file = Path(args.env_file).resolve() if args.env_file else data_dir / "sandbox.env"
    env_file.unlink(missing_ok=True)

    emulator = EmulatorProcess(args.gcs_port, data_dir / "gcs-emulator.log", host=args.host)
    emulator.start()
    httpd = None
    try:
        emulator.client.create_bucket(BUCKET, PROJECT)
        httpd = ThreadingHTTPServer((args.host, args.port), lambda *a: None)  # handler set below
        httpd.daemon_threads = True
        port = httpd.server_address[1]
        base = (args.public_url or f"http://127.0.0.1:{port}").rstrip("/")
        sa = ServiceAccount(PROJECT, f"{base}/oauth2/token")
        sa_path = sa.write(data_dir / "service-account.json")
        ctx = Context(args, base, emulator.client, data_dir)
        app = App(ctx, sa, args)
        httpd.RequestHandlerClass = make_handler(app)

        env = {
            "SANDBOX_URL": base,
            "VEO_API_BASE_URL": f"{base}/veo",
            "GCP_PROJECT_ID": PROJECT,
            "GCP_SERVICE_ACCOUNT_FILE": str(sa_path),
            "GCP_TOKEN_URI": f"{base}/oauth2/token",
            "GCS_BUCKET": BUCKET,
            "STORAGE_EMULATOR_HOST": (args.gcs_public_url or emulator.url).rstrip("/"),
            "HEYGEN_API_BASE_URL": f"{base}/heygen",
            "HEYGEN_UPLOAD_BASE_URL": f"{base}/heygen-upload",
            "HEYGEN_API_KEY": ctx.heygen_api_key,
            "STRIPE_API_BASE": f"{base}/stripe",
            "STRIPE_SECRET_KEY": ctx.stripe_secret_key,
            "STRIPE_WEBHOOK_SECRET": ctx.stripe_webhook_secret,
            **PRICE_SETTINGS,
            "SANDBOX_DATA_DIR": str(data_dir),
        }
        text = "".join(f"{k}={v}\n" for k, v in env.items())
        tmp = env_file.with_name(env_file.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(env_file)
        print(f"# sandbox ready; env written to {env_file}\n{text}", flush=True)

        def stop(signum, frame):
            ctx.stopping.set()
            threading.Thread(target=httpd.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        httpd.serve_forever(poll_interval=0.2)
        ctx.executor.shutdown(wait=False, cancel_futures=True)
        return 0
    finally:
        if httpd is not None:
            httpd.server_close()
        emulator.stop()


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2
