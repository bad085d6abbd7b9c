"""`make demo`: the whole product end to end on the sandbox providers, no credentials and no services needed.

Starts the sandbox (Veo, HeyGen, GCS emulator), a Celery worker with the sweeper, and the API server; creates a
user and token; submits the brief's "Premium Wireless Headphones" example through the real HTTP API; shows a
progress bar; downloads the finished MP4; stops everything; prints the file's path as the last line.
With --buy-credits it first buys the 50-credit pack through the sandbox's Stripe Checkout (the payment's webhook
credits the account).

With --keep-running the stack stays up after the video for a person to click through the web app: the demo user
gets a password made at random for this run and some credits, the web app's address and the sign-in are printed,
and everything is torn down on Ctrl-C.
"""

import os
import secrets
import signal
import threading
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devstack.briefs import demo_brief
from devstack.stack import local_stack
from video_generation.client import ApiError, VideoApi

FREE_PLAN_SCENES = 5  # 8 + 4 x 7 = 36 s: 5 credits of the free plan's 15
DEMO_USER = "demo"
KEEP_RUNNING_CREDITS = 30  # given to the demo user with --keep-running: a few more videos from the web app


class Command(BaseCommand):
    help = "Run the full pipeline on the sandbox providers and leave a playable MP4."

    def add_arguments(self, parser):
        parser.add_argument("--out", default=str(settings.BASE_DIR / "demo-output"))
        parser.add_argument("--aspect-ratio", default="9:16", choices=["9:16", "16:9"])
        parser.add_argument("--heygen-api-version", default="v3", choices=["v3", "v2"])
        parser.add_argument("--scenes", type=int, default=3)
        parser.add_argument("--veo-latency", type=float, default=4.0, help="seconds per Veo operation")
        parser.add_argument("--heygen-latency", type=float, default=8.0, help="seconds per HeyGen render")
        parser.add_argument("--buy-credits", action="store_true",
                            help="first buy the credits-50 pack through the sandbox's Stripe Checkout")
        parser.add_argument("--keep-running", action="store_true",
                            help="afterwards keep the web app, worker and sandbox running with a ready account "
                                 "(its address and sign-in are printed) until Ctrl-C")
        parser.add_argument("--port", type=int, default=0,
                            help="the web app's (API server's) port on 127.0.0.1; default: a free one")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stop = threading.Event()  # --keep-running waits for it (Ctrl-C or SIGTERM sets it)

    def handle(self, *args, **options):
        workdir = settings.BASE_DIR / "var" / "demo" / time.strftime("%Y%m%d-%H%M%S")
        say = self.stderr.write
        say(f"Starting the sandbox providers, a worker and the API server (logs: {workdir / 'logs'})")
        with local_stack(workdir, veo_seconds=options["veo_latency"], heygen_seconds=options["heygen_latency"],
                         heygen_api_version=options["heygen_api_version"],
                         redis_url=os.environ.get("REDIS_URL") or None, api_port=options["port"]) as stack:
            stack.start_worker(concurrency=3)
            api_url = stack.start_api()
            # The free plan covers up to five scenes (15 credits); a longer demo runs on the unlimited plan.
            plan = None if options["scenes"] <= FREE_PLAN_SCENES else "enterprise"
            token = stack.create_token(DEMO_USER, plan=plan)
            api = VideoApi(api_url, token)
            if options["buy_credits"]:
                say(buy_credits(api_url, token))
            brief = demo_brief(f"{stack.sandbox_url}/assets/headphones.png", scenes=options["scenes"],
                               aspect_ratio=options["aspect_ratio"])
            try:
                quote = api.quote(brief)
                say(f"Quote: {quote['credits']} credits for a {quote['duration_seconds']} s video; provider cost "
                    f"about ${quote['estimated_cost_usd']}. {self.balance(api)}")
                answer = api.submit(brief)
                say(f"Submitted job {answer['job_id']} ({len(brief['scenes'])} scenes, "
                    f"{options['aspect_ratio']}, HeyGen {options['heygen_api_version']}); watching it:")
                job = api.watch(answer["job_id"], interval=0.5, timeout=900, out=self.stderr._out)
                if job["status"] != "completed":
                    raise CommandError(f"the job {job['status']}: {job.get('error_message')} "
                                       f"(logs in {workdir / 'logs'})")
                path = api.download(job, Path(options["out"]) / f"{job['id']}.mp4")
                say(f"Charged {job['credits_used']} credits for the finished video. {self.balance(api)}")
            except ApiError as exc:
                raise CommandError(f"{exc} (logs in {workdir / 'logs'})") from None
            say(self.describe(path, job))
            self.stdout.write(str(path.resolve()))
            if options["keep_running"]:
                password = ready_account(stack, DEMO_USER, credits=0 if plan else KEEP_RUNNING_CREDITS)
                say(access_details(api_url, DEMO_USER, password, mail_dir=stack.mail_dir,
                                   logs=workdir / "logs"))
                wait_until_stopped(self.stop)
                say("Stopping the web app, the worker and the sandbox...")

    @staticmethod
    def balance(api: VideoApi) -> str:
        account = api.account()
        available = account["credits"]["available"]
        return f"The {account['plan']['name']} plan has " + \
            ("unlimited credits." if available is None else f"{available} credits available.")

    def describe(self, path: Path, job: dict) -> str:
        from video_generation.services.compose import probe

        info = probe(path)
        return (f"Done in {job['processing_time_seconds']} s: {info.width}x{info.height}, {info.duration:.1f} s, "
                f"{info.video_codec}/{info.audio_codec}, {path.stat().st_size / 1e6:.1f} MB, "
                f"credits used {job['credits_used']}")


def buy_credits(api_url: str, token: str, pack: str = "credits-50") -> str:
    """Check out `pack` through the API and pay on the sandbox's hosted Checkout page, as a user would."""
    with httpx.Client(timeout=30, trust_env=False) as http:
        answer = http.post(f"{api_url}/api/billing/checkout/", json={"pack": pack},
                           headers={"Authorization": f"Token {token}"})
        if answer.status_code != 200:
            raise CommandError(f"checkout refused: {answer.status_code} {answer.text}")
        checkout = answer.json()
        paid = http.post(checkout["checkout_url"], data={"deliver": "once"})  # the page's Pay button
        if paid.status_code != 303:
            raise CommandError(f"the sandbox's Checkout did not take the payment: {paid.status_code}")
    return f"Bought the {pack} pack through Stripe Checkout (session {checkout['session_id']})"


def ready_account(stack, username: str, *, credits: int) -> str:
    """Give `username` a password made for this run (returned) so they can sign in to the web app, and `credits`
    more credits (through the ledger, like the admin's adjustments)."""
    password = secrets.token_urlsafe(12)
    stack.create_web_user(username, password)
    if credits:
        stack.manage("grant_credits", username, str(credits), "--reason", "Demo credits to try the web app")
    return password


def access_details(web_url: str, username: str, password: str, *, mail_dir: Path, logs: Path) -> str:
    """What a person needs to click through the running stack."""
    return "\n".join([
        "",
        "The stack is running. Open the web app in a browser:",
        f"  {web_url}/",
        f"  username: {username}",
        f"  password: {password}   (made for this run)",
        f"E-mails the app sends (sign-up links, password resets) are written under {mail_dir}",
        f"Logs: {logs}",
        "Press Ctrl-C to stop everything.",
    ])


def wait_until_stopped(stop: threading.Event, *, poll: float = 1.0) -> None:
    """Block until `stop` is set, by another thread or by Ctrl-C (SIGINT) or SIGTERM. The handlers are installed
    for the wait (a shell's background job starts with SIGINT ignored) and the previous ones put back after it."""
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may install signal handlers
    previous = {}
    if in_main_thread:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(poll):
            pass
    except KeyboardInterrupt:  # a SIGINT that came before the handler was in place
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
