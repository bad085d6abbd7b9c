"""Scenario `generate`: does the credit hold slow the submit path? (issue 8: "with >= 0.8 x without"; quote p50
<= 20 ms on one gunicorn worker).

Trees: tree A ("without the ledger") is `--compare REF`, by default cfdcbd8, the last commit before the billing
app (a temporary detached `git worktree`); tree B ("with") is the working tree, where accepting a job quotes it and,
in the transaction that creates it, locks the user's account row and appends a hold to the ledger. Each tree gets
a database of its own, unique to the run (bench_generate_<label>_<random>, created, migrated and dropped by the
bench), and its own gunicorn exactly as in the status scenario (bench/trees.py: 2 sync workers, no threads, DEBUG
off, the same interpreter, broker memory:// on both sides so a publish costs the same, no Celery worker: every job
stays pending), both up for the whole run. GENERATE_RATE_LIMIT is set out of reach on both.

The user: `bench`, Token auth. On tree B, a setup step run with the tree's own manage.py shell puts the user on a
dedicated plan (code bench-generate: metered, so the hold path runs, 0 monthly credits, max_jobs_in_flight
1,000,000,000) and gives it 100,000,000 credits with billing.ledger.adjust; the balance is never edited directly.

The request: POST /api/video/generate/ with the headphones brief (devstack/briefs.py: 3 scenes of 8 s, quoted at
3 credits), no Idempotency-Key, so every request starts (and on tree B holds credits for) a new job. Any answer
other than 202 fails the run at once (a 402, 429 or 400 would mean a limit, not the code, was measured).

Jobs in progress: no worker runs, so every job stays pending. Tree B counts the user's videos in progress on every
submit (the plan's max_jobs_in_flight), a count that in service never exceeds the plan's limit (5 to 100) but here
would grow by thousands over a run. So before every measurement, on both trees alike, the bench marks the jobs still
in progress cancelled (one UPDATE of the job table, then VACUUM ANALYZE of the database): each measurement starts
with none in progress, as the load a user can put on one account is bounded in service. Their holds stay on the
ledger (held credits; the credits given are enough for that).

A measurement: a separate client process (bench.loadgen: asyncio + httpx, C keep-alive connections POSTing back to
back) warms up for 2 s, then counts D seconds (--duration, default 10). Rounds (--repeats, default 3) interleave
the trees for each clients level (--clients, default 1,16), in the order A, B in odd rounds and B, A in even ones,
so that neither the machine's drift nor the order favours one tree. Reported per (tree, clients): medians over
rounds of requests per second (202s / D), p50 and p99 latency, server CPU per request, database CPU per request
(the PostgreSQL backends of the tree's own database, by process title), client CPU, other busy cores, steal; the
ratio B/A of the rps medians, and the median (and range) over rounds of B/A within each round.

Quote: each round ends with one measurement of POST /api/video/quote/ (same brief; 200 expected) against a third
gunicorn, the working tree on ONE sync worker, sharing tree B's database, by 1 client: p50 and p99, median over
rounds.

Checks at the end, from each tree's database through its own manage.py shell: jobs created = 202 answers sent
(warm-up and the requests still in flight at each window's end included); on tree B, one hold per job and the held
credits = the quotes' credits.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

from .common import REPO, loaded_note, log, machine_info, run_loadgen, write_result
from .status import (
    client_saturation_notes,
    command_line,
    disturbance_notes,
    flatten,
    median_of,
    medians,
    paired_ratios,
    ratios,
    steal_notes,
)
from .trees import (
    ServedTree,
    changed_files_since,
    describe,
    fresh_database,
    git_worktree,
    server_env,
    serving,
)

DEFAULT_REFERENCE = "cfdcbd8"  # the last commit before issue 8 (no billing app, no quote endpoint)
GENERATE_PATH = "/api/video/generate/"
QUOTE_PATH = "/api/video/quote/"
READY_PATH = "/api/video/list_jobs/"  # answers 200 once the server is up and the token works; creates nothing
WARMUP_SECONDS = 2.0
QUICK_DURATION_SECONDS = 2.0
QUOTE_WORKERS = 1
QUOTE_CLIENTS = 1
RATE_LIMIT = "1000000000/hour"  # out of reach: counted per gunicorn worker (no shared cache), on both trees
IMAGE_URL = "https://cdn.example.com/headphones.jpg"  # public-looking; the server never fetches it (no worker)
ACTIVE_STATUSES = ("pending", "processing_veo", "processing_heygen", "composing")
TARGET_RPS_RATIO = 0.8
TARGET_QUOTE_P50_MS = 20.0

BENCH_PLAN_CODE = "bench-generate"
BENCH_PLAN = {"name": "Benchmark (python -m bench generate)", "monthly_credits": 0, "max_scenes": 20,
              "max_jobs_in_flight": 1_000_000_000, "generate_rate_limit": "", "allowed_qualities": [],
              "sort_order": 99}
BENCH_CREDITS = 100_000_000

SETUP_SCRIPT = """
import json
from django.apps import apps
from django.contrib.auth import get_user_model
import video_saas
User = get_user_model()
user = User.objects.get(**{{User.USERNAME_FIELD: "bench"}})
out = {{"package_file": video_saas.__file__, "ledger": apps.is_installed("billing")}}
if out["ledger"]:
    from billing import ledger
    from billing.models import Plan, UserProfile
    plan, _ = Plan.objects.get_or_create(code={code!r}, defaults=json.loads({plan!r}))
    account = ledger.open_account(user)
    UserProfile.objects.filter(id=account.id).update(plan=plan)  # which plan; credits only through the ledger
    ledger.adjust(account.id, {credits}, reason="benchmark credits (python -m bench generate)", by=None,
                  key="bench:generate:credits")
    account = UserProfile.objects.select_related("plan").get(id=account.id)
    out.update(plan=account.plan.code, unlimited=account.plan.unlimited,
               max_jobs_in_flight=account.plan.max_jobs_in_flight,
               generate_rate_limit=account.plan.generate_rate_limit,
               available_credits=account.available_credits, held_credits=account.held_credits)
print(json.dumps(out))
"""

CHECK_SCRIPT = """
import json
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Count
from video_generation.models import VideoJob
User = get_user_model()
user = User.objects.get(**{User.USERNAME_FIELD: "bench"})
jobs = VideoJob.objects.filter(user=user)
out = {"jobs": jobs.count(),
       "jobs_by_status": dict(jobs.values_list("status").annotate(n=Count("id")).values_list("status", "n"))}
if apps.is_installed("billing"):
    from billing.models import LedgerEntry, UserProfile
    holds = LedgerEntry.objects.filter(account__user=user, kind="hold")
    account = UserProfile.objects.get(user=user)
    out.update(holds=holds.count(), jobs_with_a_hold=holds.values("job_id").distinct().count(),
               quoted_credits=sum(q.get("credits", 0) for q in jobs.values_list("quote", flat=True)),
               held_credits=account.held_credits, available_credits=account.available_credits)
print(json.dumps(out))
"""


def headphones_body() -> dict:
    from devstack.briefs import headphones_brief

    return headphones_brief(IMAGE_URL)


# --- statistics (pure) -------------------------------------------------------------------------------------------

def tree_order(round_number: int, labels: list[str]) -> list[str]:
    """A, B in odd rounds and B, A in even ones (ABBA), so that going first or second favours neither tree."""
    return list(labels) if round_number % 2 else list(reversed(labels))


def answer_counts(runs: list[dict]) -> dict:
    """Every answer of these runs (whole runs, warm-up included), grouped: the expected one, 402, other 4xx, 5xx,
    and no answer (a transport error)."""
    counts = {"expected": 0, "402": 0, "other_4xx": 0, "5xx": 0, "no_answer": 0, "total": 0}
    for run in runs:
        for outcome, n in run["outcomes_whole_run"].items():
            counts["total"] += n
            if outcome == str(run["expected_status"]):
                counts["expected"] += n
            elif outcome == "402":
                counts["402"] += n
            elif outcome.isdigit() and outcome.startswith("4"):
                counts["other_4xx"] += n
            elif outcome.isdigit() and outcome.startswith("5"):
                counts["5xx"] += n
            else:
                counts["no_answer"] += n
    return counts


def verdicts(ratio_of_medians: dict, per_round: dict, quote: dict, *, quick: bool) -> dict:
    """Each target met (True/False), or None for a quick run (too short to judge). The rps target counts as met at
    a clients level only if both the ratio of the medians and the median of the per-round ratios reach it."""
    out = {}
    for clients, ratio in ratio_of_medians.items():
        paired = per_round.get(clients, {}).get("rps", {}).get("median")
        values = [v for v in (ratio.get("rps"), paired) if v is not None]
        out[f"rps_ratio_{clients}_clients"] = None if quick or not values else min(values) >= TARGET_RPS_RATIO
    p50 = quote.get("p50_ms")
    out["quote_p50"] = None if quick or p50 is None else p50 <= TARGET_QUOTE_P50_MS
    return out


# --- processes ---------------------------------------------------------------------------------------------------

class GenerateTree(ServedTree):
    """A tree served for POSTs: no job is created up front; on the ledger side the user gets the bench plan and
    credits."""

    setup: dict | None = None  # what the setup step found or did (prepare)

    def prepare(self) -> None:
        self.env = server_env(self.database_url, GENERATE_RATE_LIMIT=RATE_LIMIT)
        self.ready_path = READY_PATH
        self.manage("migrate", "--noinput")
        self.token = self.manage("create_api_token", "bench")[-1]
        script = SETUP_SCRIPT.format(code=BENCH_PLAN_CODE, plan=json.dumps(BENCH_PLAN), credits=BENCH_CREDITS)
        self.setup = json.loads(self.manage("shell", "-c", script)[-1])
        package_file = self.setup.pop("package_file")
        if not Path(package_file).resolve().is_relative_to(self.root.resolve()):
            raise RuntimeError(f"tree {self.label} imported video_saas from {package_file}, not from {self.root}")
        if self.setup["ledger"] and (self.setup["unlimited"] or self.setup["available_credits"] < BENCH_CREDITS):
            raise RuntimeError(f"tree {self.label}: the bench account would not hold credits: {self.setup}")
        log(f"tree {self.label} ({self.description}): migrated; "
            + (f"user on plan {self.setup['plan']} with {self.setup['available_credits']} credits available"
               if self.setup["ledger"] else "no ledger"))

    def check(self) -> dict:
        return json.loads(self.manage("shell", "-c", CHECK_SCRIPT)[-1])


def retire_jobs(tree: ServedTree) -> int:
    """Mark the jobs still in progress cancelled and VACUUM ANALYZE the database; how many there were."""
    import psycopg

    with psycopg.connect(tree.database_url, autocommit=True) as conn:
        retired = conn.execute("UPDATE video_generation_videojob SET status = 'cancelled' WHERE status = ANY(%s)",
                               (list(ACTIVE_STATUSES),)).rowcount
        conn.execute("VACUUM (ANALYZE)")
    return retired


def database_name(tree: ServedTree) -> str:
    return tree.database_url.rsplit("/", 1)[1]


def run_load(tree: ServedTree, url: str, clients: int, duration: float, body: dict, expect: int) -> dict:
    """One measurement: a fresh client process POSTing `body` to `url`; its JSON report."""
    result = run_loadgen(["--url", url, "--clients", str(clients), "--duration", str(duration), "--warmup",
                          str(WARMUP_SECONDS), "--server-pid", str(tree.process.pid), "--method", "POST",
                          "--body", json.dumps(body), "--expect", str(expect), "--database", database_name(tree)],
                         token=tree.token, seconds=WARMUP_SECONDS + duration)
    if result["unexpected_whole_run"] or not result["ok_responses"]:
        raise RuntimeError(f"tree {tree.label} at {clients} clients, {url}: {result['unexpected_whole_run']} answers "
                           f"other than {expect} {result['outcomes_whole_run']}; first: {result['first_failure']}\n"
                           f"{tree.log_tail()}")
    return result


def describe_result(result: dict) -> str:
    return (f"{result['rps']:.1f} rps, p50 {result['latency_ms']['p50']:.2f} ms, p99 {result['latency_ms']['p99']:.2f} "
            f"ms, server CPU {result['server_cpu_ms_per_request']} ms/request, database CPU "
            f"{result['database_cpu_ms_per_request']} ms/request, client {result['client_cpu_cores']} cores, others "
            f"{result['other_busy_cores']} cores, steal {result['machine_steal_cores']} cores")


def measure(trees: dict[str, GenerateTree], quote_server: ServedTree, levels: list[int], rounds: int,
            duration: float, body: dict) -> tuple[list[dict], list[dict]]:
    runs, quotes = [], []
    for round_number in range(1, rounds + 1):
        for clients in levels:
            for label in tree_order(round_number, list(trees)):
                tree = trees[label]
                retired = retire_jobs(tree)
                load_before = os.getloadavg()[0]
                result = run_load(tree, f"{tree.base_url}{GENERATE_PATH}", clients, duration, body, 202)
                runs.append({"round": round_number, "tree": label, "load_1m_before": round(load_before, 2),
                             "jobs_retired_before": retired, **result})
                log(f"round {round_number}/{rounds}, generate, {clients} clients, tree {label}: "
                    f"{describe_result(result)}")
        load_before = os.getloadavg()[0]
        result = run_load(quote_server, f"{quote_server.base_url}{QUOTE_PATH}", QUOTE_CLIENTS, duration, body, 200)
        quotes.append({"round": round_number, "load_1m_before": round(load_before, 2), **result})
        log(f"round {round_number}/{rounds}, quote, {QUOTE_CLIENTS} client, {QUOTE_WORKERS} worker: "
            f"{describe_result(result)}")
    return runs, quotes


def quote_summary(quotes: list[dict]) -> dict:
    flat = [flatten(q) for q in quotes]
    return {"rounds": len(quotes), **{metric: median_of([f[metric] for f in flat]) for metric in flat[0]},
            "p50_ms_range": [min(f["p50_ms"] for f in flat), max(f["p50_ms"] for f in flat)],
            "p99_ms_range": [min(f["p99_ms"] for f in flat), max(f["p99_ms"] for f in flat)]}


def consistency_checks(trees: dict[str, GenerateTree], runs: list[dict]) -> dict:
    """From each tree's database: a job for every 202, and (ledger) a hold for every job."""
    out = {}
    for label, tree in trees.items():
        found = tree.check()
        accepted = sum(r["outcomes_whole_run"].get("202", 0) for r in runs if r["tree"] == label)
        problems = []
        if found["jobs"] != accepted:
            problems.append(f"{found['jobs']} jobs in the database for {accepted} answers 202")
        if tree.setup["ledger"]:
            if not (found["holds"] == found["jobs_with_a_hold"] == found["jobs"]):
                problems.append(f"{found['holds']} holds on {found['jobs_with_a_hold']} jobs for {found['jobs']} jobs")
            if found["held_credits"] != found["quoted_credits"]:
                problems.append(f"{found['held_credits']} credits held for {found['quoted_credits']} quoted")
        out[label] = {"accepted_202": accepted, **found, "ok": not problems, "problems": problems}
    return out


# --- the scenario ------------------------------------------------------------------------------------------------

def open_generate_trees(stack: contextlib.ExitStack, reference: str) -> tuple[dict[str, GenerateTree], ServedTree]:
    """{"a": the reference's tree, "b": the working tree}, each prepared and served, and the quote server (the
    working tree on one worker, on B's database); `stack` stops the servers, drops the databases and removes the
    temporary worktree."""
    roots = {"a": (stack.enter_context(git_worktree(reference)), f"git {reference} (without the ledger)"),
             "b": (REPO, "working tree (with the ledger)")}
    run_id = secrets.token_hex(4)
    trees = {}
    for label, (root, description) in roots.items():
        database_url = stack.enter_context(fresh_database(f"bench_generate_{label}_{run_id}"))
        tree = GenerateTree(label=label, description=description, root=root, database_url=database_url)
        tree.prepare()
        trees[label] = stack.enter_context(serving(tree))
    b = trees["b"]
    quote_server = ServedTree(label="quote", description=f"working tree, {QUOTE_WORKERS} worker", root=REPO,
                              database_url=b.database_url, env=b.env, token=b.token, workers=QUOTE_WORKERS,
                              ready_path=READY_PATH)
    stack.enter_context(serving(quote_server))
    return trees, quote_server


def run(args) -> dict:
    reference = args.compare or DEFAULT_REFERENCE
    duration = QUICK_DURATION_SECONDS if args.quick else args.duration
    rounds = 1 if args.quick else args.repeats
    levels = args.clients
    body = headphones_body()
    info = machine_info()
    log(f"generate: tree A ({reference}, without the ledger) and B (working tree, with it), clients {levels}, "
        f"{rounds} rounds x {duration:.0f} s after {WARMUP_SECONDS:.0f} s warm-up, then quote on "
        f"{QUOTE_WORKERS} worker; {loaded_note(info)}")
    with contextlib.ExitStack() as stack:
        trees, quote_server = open_generate_trees(stack, reference)
        described = {label: describe(tree, reference if label == "a" else None) for label, tree in trees.items()}
        described["b"]["tracked_files_differing_from_a"] = changed_files_since(described["a"]["commit"])
        for label, tree in trees.items():
            described[label]["setup"] = tree.setup
        runs, quotes = measure(trees, quote_server, levels, rounds, duration, body)
        checks = consistency_checks(trees, runs)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    table = medians(runs, list(trees), levels)
    ratio_of_medians = ratios(table, levels)
    per_round = paired_ratios(runs, levels)
    quote = quote_summary(quotes)
    data = {
        "scenario": "generate", "quick": args.quick, "machine": info, "note": loaded_note(info),
        "command": command_line(), "cwd": str(REPO), "trees": described,
        "endpoint": f"POST {GENERATE_PATH}", "quote_endpoint": f"POST {QUOTE_PATH}",
        "brief": "devstack.briefs.headphones_brief (3 scenes x 8 s), no Idempotency-Key: every request a new job",
        "server": "gunicorn, 2 sync workers, no threads, DEBUG=false, PostgreSQL 127.0.0.1 (a database per tree, "
                  "dropped after), broker memory://, no Celery worker, GENERATE_RATE_LIMIT " + RATE_LIMIT,
        "quote_server": f"gunicorn, {QUOTE_WORKERS} sync worker, the working tree, {QUOTE_CLIENTS} client",
        "client": "asyncio + httpx.AsyncClient, one keep-alive connection per client (gunicorn's sync workers "
                  "close each connection after one response, so every request opens a new one)",
        "jobs_in_progress": "the jobs still in progress are marked cancelled (and the database vacuumed) before "
                            "every measurement, on both trees: each measurement starts with none in progress",
        "bench_plan": {"code": BENCH_PLAN_CODE, **BENCH_PLAN, "credits_given": BENCH_CREDITS},
        "clients_levels": levels, "rounds": rounds, "duration_seconds": duration, "warmup_seconds": WARMUP_SECONDS,
        "order": "per round and clients level: a, b in odd rounds, b, a in even ones; then the quote",
        "medians": table, "ratios_b_over_a": ratio_of_medians, "paired_ratios_b_over_a": per_round,
        "quote": quote,
        "targets": {"rps_ratio_at_least": TARGET_RPS_RATIO, "quote_p50_ms_at_most": TARGET_QUOTE_P50_MS},
        "verdicts": verdicts(ratio_of_medians, per_round, quote, quick=args.quick),
        "answers": {label: answer_counts([r for r in runs if r["tree"] == label]) for label in trees}
        | {"quote": answer_counts(quotes)},
        "checks": checks,
        "notes": client_saturation_notes(table) + disturbance_notes(runs + [{**q, "tree": "quote"} for q in quotes])
        + steal_notes([{**q, "tree": "quote"} for q in quotes] + runs),
        "runs": runs, "quote_runs": quotes,
    }
    write_result("generate" + ("-quick" if args.quick else ""), data)
    print_summary(data)
    failed = [f"tree {label}: {'; '.join(c['problems'])}" for label, c in checks.items() if not c["ok"]]
    if failed:
        raise RuntimeError("consistency checks failed: " + " | ".join(failed))
    return data


def summary_lines(data: dict) -> list[str]:
    """The short text summary (printed, and the basis of the results README's section)."""
    lines = [f"generate: {data['command']}  ({data['rounds']} rounds x {data['duration_seconds']:.0f} s; "
             f"{data['note']})",
             f"{'tree':<5} {'clients':>7} {'rps':>9} {'rps range':>17} {'p50 ms':>8} {'p99 ms':>8} "
             f"{'server CPU ms/req':>18} {'DB CPU ms/req':>14} {'other cores':>12} {'steal':>6}"]
    for label, levels in data["medians"].items():
        for clients, m in levels.items():
            lines.append(f"{label:<5} {clients:>7} {m['rps']:>9.1f} {m['rps_min']:>8.1f}-{m['rps_max']:<8.1f} "
                         f"{m['p50_ms']:>8.2f} {m['p99_ms']:>8.2f} {m['server_cpu_ms_per_request'] or 0:>18.2f} "
                         f"{m['database_cpu_ms_per_request'] or 0:>14.2f} {m['other_busy_cores']:>12.2f} "
                         f"{m['machine_steal_cores']:>6.2f}")
    verdict = {True: "met", False: "NOT met", None: "not judged (quick run)"}
    for clients, r in data["ratios_b_over_a"].items():
        paired = data["paired_ratios_b_over_a"][clients]["rps"]
        lines.append(f"with/without at {clients} clients: rps ratio of medians {r['rps']:.3f}, median of per-round "
                     f"ratios {paired['median']:.3f} [{paired['min']:.3f}-{paired['max']:.3f}]; target >= "
                     f"{TARGET_RPS_RATIO}: {verdict[data['verdicts'][f'rps_ratio_{clients}_clients']]}")
    q = data["quote"]
    lines.append(f"quote ({data['quote_server']}): p50 {q['p50_ms']:.2f} ms [{q['p50_ms_range'][0]:.2f}-"
                 f"{q['p50_ms_range'][1]:.2f}], p99 {q['p99_ms']:.2f} ms, {q['rps']:.1f} rps; target p50 <= "
                 f"{TARGET_QUOTE_P50_MS:.0f} ms: {verdict[data['verdicts']['quote_p50']]}")
    for label, counts in data["answers"].items():
        lines.append(f"answers, {label}: {counts['expected']} expected of {counts['total']}; 402: {counts['402']}, "
                     f"other 4xx: {counts['other_4xx']}, 5xx: {counts['5xx']}, no answer: {counts['no_answer']}")
    for label, check in data["checks"].items():
        held = (f", {check['holds']} holds, {check['held_credits']} credits held for {check['quoted_credits']} "
                f"quoted" if "holds" in check else "")
        lines.append(f"check, tree {label}: {check['jobs']} jobs for {check['accepted_202']} answers 202{held}: "
                     f"{'ok' if check['ok'] else 'FAILED: ' + '; '.join(check['problems'])}")
    lines.append(f"machine load average at start {' / '.join(map(str, data['machine']['load_average_at_start']))}, "
                 f"at end {' / '.join(map(str, data['machine']['load_average_at_end']))}")
    lines += [f"note: {n}" for n in data["notes"]]
    return lines


def print_summary(data: dict) -> None:
    print("\n" + "\n".join(summary_lines(data)), flush=True)
