"""`fep-motion experiment run|simulate|analyze|report|validate`: protocols, virtual cohorts, analysis and reports."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("experiment", help="run, simulate and analyze subjective experiments",
                              description="Within-subject experiments from a protocol YAML (see examples/protocols).")
    sub = p.add_subparsers(dest="experiment_command", metavar="SUBCOMMAND")

    r = sub.add_parser("run", help="run (or resume) one participant through a protocol",
                       description="Runs the participant's trials in their counterbalanced order, then the "
                       "questionnaire after each; re-running resumes at the next uncompleted trial.")
    r.add_argument("protocol", help="protocol YAML")
    r.add_argument("--participant", required=True, help="pseudonymous participant id, e.g. P01")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--camera", type=int, help="webcam index (live participant)")
    src.add_argument("--source", help="video file of the participant, or STUDY.db:SESSION_ID (a recorded "
                     "participant's pose stream)")
    src.add_argument("--virtual", help="virtual participant: 'default' or a config YAML (fast path, no rendering)")
    r.add_argument("--store", required=True, help="study database (SQLite), e.g. study.db")
    r.add_argument("--questionnaire", default="terminal", choices=("terminal", "web", "virtual"),
                   help="where the participant answers (web: a form on 127.0.0.1)")
    r.add_argument("--web-port", type=int, default=0, help="port of the web form (0 = any free port)")
    r.add_argument("--engine", default="loop", choices=("loop", "events"),
                   help="loop: the real session loop (perception, policy, body, store; no rendering); events: the "
                   "event-level fast path (virtual participants only)")
    r.add_argument("--fps", type=float, default=30.0, help="session frame rate (loop engine)")
    r.add_argument("--no-breaks", action="store_true", help="skip the protocol's breaks between trials")
    r.add_argument("--no-display", action="store_true",
                   help="with --camera: do not open the window showing the agent to the participant")
    r.add_argument("--seed", type=int, default=0, help="simulation seed for virtual participants")
    r.add_argument("--audio", choices=("on", "off"), default="off",
                   help="with --virtual and the loop engine: on = the participant talks aloud (espeak-ng) and the "
                        "agent hears it: a condition's utterance script, else its own turns of phrases and pauses "
                        "(recognised for the brain, stored as ground truth: the report draws the backchannel "
                        "learning curve); off (default) = no audio, a script goes to the brain as text")
    r.set_defaults(func=_run)

    s = sub.add_parser("simulate", help="simulate a whole study with a virtual cohort (fast path)",
                       description="Replays the protocol for N virtual participants (V001..) unattended; without "
                       "--cohort the shipped default cohort is used. Re-running resumes unfinished trials.")
    s.add_argument("protocol", help="protocol YAML")
    s.add_argument("--cohort", default=None, help="cohort YAML (default: the shipped default cohort)")
    s.add_argument("--n", type=int, required=True, help="number of virtual participants")
    s.add_argument("--store", required=True, help="study database (SQLite)")
    s.add_argument("--seed", type=int, default=0, help="simulation seed")
    s.add_argument("--engine", default="events", choices=("events", "loop"),
                   help="events: fast path, event-level simulator (default); loop: every trial through the real "
                   "session loop with a virtual participant, no rendering (about 6x faster than real time)")
    s.add_argument("--audio", choices=("on", "off"), default="off",
                   help="with --engine loop: on = the participants talk aloud and the agent hears them, as in "
                        "`experiment run --audio on`; off (default) = no audio")
    s.set_defaults(func=_simulate)

    for name, helptext in (("analyze", "metrics.csv + report.html + group statistics of a study database"),
                           ("report", "regenerate report.html (figures, statistics, methods) of a study database")):
        a = sub.add_parser(name, help=helptext, description=helptext)
        a.add_argument("store", help="study database (SQLite)")
        a.add_argument("--out", required=True, help="output directory")
        a.add_argument("--surrogates", type=int, default=1000, help="shuffled-onset surrogates per trial")
        a.add_argument("--seed", type=int, default=0, help="surrogate seed")
        a.set_defaults(func=_analyze, write_csv=(name == "analyze"))

    v = sub.add_parser("validate", help="null false-positive rate and power curve of the elicitation test",
                       description="Event-level null studies (no contingency) and planted-effect cohorts.")
    v.add_argument("--null-studies", type=int, default=200)
    v.add_argument("--n", type=int, default=12, help="participants per null study")
    v.add_argument("--power-n", default="4,8,12,16,24", help="comma-separated N for the power curve")
    v.add_argument("--power-studies", type=int, default=100)
    v.add_argument("--effect", type=float, default=0.1, help="planted P(answer an agent gesture)")
    v.add_argument("--surrogates", type=int, default=1000)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--cohort", default=None, help="cohort for the condition-comparison power (default: shipped)")
    v.add_argument("--compare", default="fep,random", help="two policies compared within subject")
    v.add_argument("--compare-studies", type=int, default=0,
                   help="studies per N for the condition-comparison power curve (0 = skip)")
    v.set_defaults(func=_validate)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _run(args: argparse.Namespace) -> int:
    from experiments.protocol import load_protocol
    from experiments.runner import run_participant

    protocol = load_protocol(args.protocol)  # validated before the database is opened
    s = run_participant(protocol, args.store, args.participant, virtual=args.virtual, camera=args.camera,
                        source=args.source, questionnaire=args.questionnaire, engine=args.engine, fps=args.fps,
                        display=not args.no_display,
                        web_port=args.web_port,
                        breaks=not args.no_breaks, seed=args.seed, speech=args.audio == "on")
    print(f"{s.participant} (index {s.index}, order {' -> '.join(s.order)}): {s.trials_run} trial(s) run, "
          f"{s.trials_skipped} already completed; answers in {args.store}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from experiments.cohort import load_cohort
    from experiments.errors import ExperimentError
    from experiments.protocol import load_protocol
    from experiments.simulate import simulate_study
    from tty_progress import progress

    protocol = load_protocol(args.protocol)
    cohort = load_cohort(args.cohort)
    if args.n < 1:
        raise ExperimentError(f"--n must be >= 1, got {args.n}")
    with progress("simulate", "trial", args.n * len(protocol.conditions)) as bar:
        s = simulate_study(protocol, cohort, args.n, args.store, seed=args.seed, progress=bar.set, engine=args.engine,
                           speech=args.audio == "on")
    print(f"simulated {s.participants} participants of '{protocol.name}' with cohort '{cohort.name}': "
          f"{s.trials_run} trials run, {s.trials_skipped} already completed -> {args.store}")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from pathlib import Path

    from experiments.analysis.study import AnalysisParams, analyze_study
    from experiments.errors import ExperimentError
    from experiments.report import test_sentence, write_report
    from tty_progress import progress

    if not Path(args.store).is_file():
        raise ExperimentError(f"{args.store}: no such study database: pass the --store path used by run/simulate")
    if args.surrogates < 1:
        raise ExperimentError(f"--surrogates must be >= 1, got {args.surrogates}")
    with progress("analyze", "trial") as bar:
        a = analyze_study(args.store, AnalysisParams(n_surrogates=args.surrogates, seed=args.seed), bar.set)
    path = write_report(a, args.out, metrics_csv=args.write_csv)
    for c, g in a.group_elicitation.items():
        print(f"elicitation {c}: mean {g.mean_proportion:.3f} vs surrogate {g.mean_surrogate:.3f}, "
              f"mean z {g.mean_z:.2f}, group p {g.p:.4f} (N = {g.n})")
    for m in ("elicitation", "human_rate_per_min", *[f"q_{s}" for s in a.scales]):
        print(test_sentence(m, a.tests[m]))
    print(f"report: {path}" + (f"\nmetrics: {Path(args.out) / 'metrics.csv'}" if args.write_csv else ""))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from experiments.errors import ExperimentError
    from experiments.validation import null_false_positive_rate, power_curve

    try:
        ns = [int(x) for x in args.power_n.split(",") if x.strip()]
    except ValueError:
        raise ExperimentError(f"--power-n '{args.power_n}' must be comma-separated integers, e.g. 4,8,12") from None
    if not ns or min(ns) < 1 or args.null_studies < 1 or args.power_studies < 1 or not 0 <= args.effect <= 1:
        raise ExperimentError("--power-n, --null-studies, --power-studies must be >= 1 and --effect in [0, 1]")
    r = null_false_positive_rate(args.null_studies, args.n, n_surrogates=args.surrogates, seed=args.seed)
    print(f"null studies: {r.studies} x {args.n} participants, alpha {r.alpha}")
    print(f"  group elicitation test: {r.group_rejections}/{r.studies} = {r.group_rate:.3f} rejections, "
          f"95% binomial interval {r.group_interval}")
    print(f"  per-trial test:         {r.trial_rejections}/{r.trial_tests} = {r.trial_rate:.3f}, "
          f"interval {r.trial_interval}  -> {'within' if r.within_interval else 'OUTSIDE'}")
    print(f"power (planted P(answer) = {args.effect}, {args.power_studies} studies per N):")
    print("  N    power   95% CI")
    for n, pw, (lo, hi) in power_curve(ns, args.effect, args.power_studies, n_surrogates=args.surrogates,
                                       seed=args.seed + 1):
        print(f"  {n:<4d} {pw:6.2f}   [{lo:.2f}, {hi:.2f}]")
    if args.compare_studies > 0:
        from experiments.cohort import load_cohort
        from experiments.eventsim import AGENT_MODELS
        from experiments.validation import comparison_power

        pair = [x.strip() for x in args.compare.split(",")]
        if len(pair) != 2 or not all(x in AGENT_MODELS for x in pair):
            raise ExperimentError(
                f"--compare '{args.compare}' must name two of {sorted(AGENT_MODELS)}, e.g. fep,random")
        cohort = load_cohort(args.cohort)
        print(f"within-subject power, {pair[0]} vs {pair[1]}, cohort '{cohort.name}', Wilcoxon signed-rank at alpha "
              f"0.05, {args.compare_studies} studies per N:")
        print("  N    elicitation  questionnaire")
        for c in comparison_power(ns, cohort, pair[0], pair[1], args.compare_studies, seed=args.seed + 2):
            print(f"  {c.n:<4d} {c.elicitation:11.2f}  {c.questionnaire:13.2f}")
    return 0 if r.within_interval else 1
