"""`python manage.py video submit|quote|account|watch|download|cancel ...`: the API from the command line.

The API URL and token come from --api/--token or VIDEO_SAAS_API_URL / VIDEO_SAAS_TOKEN.
"""

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ...client import ApiError, VideoApi


class Command(BaseCommand):
    help = "Submit a JSON brief, watch a job with a progress bar, download or cancel it."

    def add_arguments(self, parser):
        parser.add_argument("--api", default=os.environ.get("VIDEO_SAAS_API_URL", "http://127.0.0.1:8000"))
        parser.add_argument("--token", default=os.environ.get("VIDEO_SAAS_TOKEN", ""))
        sub = parser.add_subparsers(dest="action", required=True)
        submit = sub.add_parser("submit", help="submit a brief (JSON file, or - for stdin)")
        submit.add_argument("brief")
        submit.add_argument("--watch", action="store_true", help="then show progress until it finishes")
        submit.add_argument("--download", metavar="DIR", help="then save the finished video in DIR")
        quote = sub.add_parser("quote", help="what a brief would cost (JSON file, or - for stdin); creates nothing")
        quote.add_argument("brief")
        sub.add_parser("account", help="your plan and credit balances")
        watch = sub.add_parser("watch", help="show a job's progress until it finishes")
        watch.add_argument("job_id")
        watch.add_argument("--download", metavar="DIR")
        download = sub.add_parser("download", help="save a finished job's video")
        download.add_argument("job_id")
        download.add_argument("--dir", default=".")
        cancel = sub.add_parser("cancel", help="cancel a running job")
        cancel.add_argument("job_id")

    def handle(self, *args, **options):
        if not options["token"]:
            raise CommandError("an API token is needed: --token or VIDEO_SAAS_TOKEN "
                               "(create one with `manage.py create_api_token USERNAME`)")
        api = VideoApi(options["api"], options["token"])
        try:
            getattr(self, f"do_{options['action']}")(api, options)
        except ApiError as exc:
            raise CommandError(str(exc)) from None

    def read_brief(self, options) -> dict:
        text = self.stdin.read() if options["brief"] == "-" else Path(options["brief"]).read_text()
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"the brief is not valid JSON: {exc}") from None

    def do_quote(self, api, options):
        quote = api.quote(self.read_brief(options))
        self.stdout.write(
            f"{quote['credits']} credits: a {quote['duration_seconds']} s video (B-roll {quote['broll_seconds']} s, "
            f"narration about {quote['narration_seconds']} s), {quote['quality']} quality, "
            f"B-roll audio {'on' if quote['broll_audio'] else 'off'}; provider cost about "
            f"${quote['estimated_cost_usd']}; ready in about {quote['estimated_time_seconds']} s")

    def do_account(self, api, options):
        account = api.account()
        plan, credits = account["plan"], account["credits"]
        available = "unlimited" if credits["available"] is None else credits["available"]
        self.stdout.write(f"{account['username']}: {plan['name']} plan, credits available {available} "
                          f"(held {credits['held']}, granted {credits['granted']}, purchased {credits['purchased']}); "
                          f"{account['videos_this_month']} videos this period, which ends {account['period_ends_at']}")

    def do_submit(self, api, options):
        answer = api.submit(self.read_brief(options))
        self.stdout.write(f"job {answer['job_id']} accepted: {answer['credits']} credits held "
                          f"(about {answer['estimated_time_seconds']} s)")
        if options["watch"] or options["download"]:
            self.finish(api, answer["job_id"], options["download"])
        else:
            self.stdout.write(answer["job_id"])

    def do_watch(self, api, options):
        self.finish(api, options["job_id"], options["download"])

    def do_download(self, api, options):
        job = api.status(options["job_id"])
        self.stdout.write(str(api.download(job, Path(options["dir"]) / f"{job['id']}.mp4")))

    def do_cancel(self, api, options):
        job = api.cancel(options["job_id"])
        self.stdout.write(f"job {job['id']} is {job['status']}")

    def finish(self, api, job_id, download_dir):
        job = api.watch(job_id, out=self.stderr._out)
        if job["status"] != "completed":
            raise CommandError(f"job {job_id} {job['status']}: {job.get('error_message') or ''}".strip())
        if download_dir:
            self.stdout.write(str(api.download(job, Path(download_dir) / f"{job_id}.mp4")))
        else:
            self.stdout.write(job["final_video_url"])
