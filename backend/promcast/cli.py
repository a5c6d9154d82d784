"""The ``promcast`` command line: parse, call the library, print or write. No logic lives here."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Sequence

from . import __version__
from .errors import InputError, PromcastError
from .kinds.params import CLI, EXPRESSION, Param
from .kinds.registry import KINDS, PREDICTABLE, PredictionKind
from .logs import setup_logging

log = logging.getLogger("promcast")

EPILOG = (
    "Settings also come from a YAML file (--config or $PROMCAST_CONFIG) and PROMCAST_* environment "
    "variables, e.g. PROMCAST_PROMETHEUS_URL; see the README for the full list."
)


# ---------------------------------------------------------------------------------------------- options
def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML settings file (default: $PROMCAST_CONFIG)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log verbosity")


def _add_source(parser: argparse.ArgumentParser, *, with_input: bool, with_expr: bool = True) -> None:
    group = parser.add_argument_group("history")
    if with_input:
        group.add_argument("--input", metavar="F.csv", help="history CSV with header timestamp,value")
    group.add_argument("--prometheus-url", metavar="URL", help="Prometheus (or compatible) base URL")
    group.add_argument("--source", choices=["demo"], help="use the embedded demo metrics instead of Prometheus")
    if with_expr:
        group.add_argument("--expr", metavar="PROMQL", help="PromQL expression to fetch")
    group.add_argument("--history", default="14d", metavar="DUR", help="how far back to fetch (default: 14d)")
    group.add_argument("--step", default="5m", metavar="DUR", help="resolution of the fetched history (default: 5m)")
    group.add_argument("--end", default="now", metavar="TIME", help="end of the history: ISO time, epoch or 'now' (default)")


def _predict_flags() -> dict[str, list[tuple[PredictionKind, Param]]]:
    """Each ``predict`` flag with the kinds that declare it (``--capacity``: disk's size, capacity's capacity)."""
    flags: dict[str, list[tuple[PredictionKind, Param]]] = {}
    for name in PREDICTABLE:
        for param in KINDS[name].params_read_by(CLI):
            flags.setdefault(param.flag, []).append((KINDS[name], param))
    return flags


def _add_kind_params(parser: argparse.ArgumentParser) -> None:
    """The kinds' parameters as flags, help and defaults from their declarations (kinds/registry.py)."""
    group = parser.add_argument_group("kind options")
    for flag, uses in _predict_flags().items():
        parts = []
        for kind, param in uses:
            default = param.default_value()
            parts.append(f"{kind.name}: {param.help}" + (f" (default: {default})" if default is not None else ""))
        # no argparse default: a flag given to a kind that does not read it is refused
        group.add_argument(flag, metavar=uses[0][1].metavar, help="; ".join(parts))


def _kind_options(args, kind: PredictionKind) -> tuple[dict, Param | None]:
    """``(estimator options, the per-series limit expression's parameter if given)`` from the flags."""
    for flag, uses in _predict_flags().items():
        if getattr(args, uses[0][1].dest) is not None and kind not in [k for k, _ in uses]:
            raise InputError(f"{flag} applies to predict {', '.join(k.name for k, _ in uses)} only")
    limit = kind.limit_param
    limit_expr = kind.param(kind.limit_expr) if kind.limit_expr else None
    given = [p for p in (limit, limit_expr) if p is not None and getattr(args, p.dest) is not None]
    if len(given) == 2:
        raise InputError(f"give either {limit.flag} or {limit_expr.flag}, not both")
    if not given:
        alternative = f" or {limit_expr.flag}" if limit_expr else ""
        raise InputError(f"predict {kind.name} needs {limit.flag} ({kind.limit_meaning}){alternative}")
    if limit_expr in given and getattr(args, "input", None):
        raise InputError(f"{limit_expr.flag} needs a source (--prometheus-url or --source demo), not --input")
    options = {}
    for param in kind.params_read_by(CLI):
        if param.type is not EXPRESSION:
            value = param.read_or_default(getattr(args, param.dest), param.flag)
            if value is not None:
                options[param.option] = value
    return options, (limit_expr if limit_expr in given else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promcast",
        description="Forecasts, anomaly bands and predictive-maintenance rules for Prometheus and Grafana.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"promcast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def command(name: str, help_text: str, handler: Callable, description: str | None = None):
        p = sub.add_parser(name, help=help_text, description=description or help_text, epilog=EPILOG)
        p.set_defaults(handler=handler)
        _add_common(p)
        return p

    p = command("serve", "serve the Grafana JSON datasource API and /metrics", _cmd_serve,
                "Serve the Grafana JSON datasource API at /grafana and promcast's own metrics at /metrics. "
                "Without a Prometheus URL it serves the embedded demo metrics. With prefit.targets in the config "
                "(or $PROMCAST_PREFIT_TARGETS) it keeps those expressions fitted in the background, on the "
                "configured executor, and writes the fits to the store so a restart answers warm.")
    p.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", help="port to listen on (default: 8080)")
    p.add_argument("--prometheus-url", metavar="URL", help="Prometheus base URL (default: the embedded demo)")
    p.add_argument("--rules-spec", metavar="SPEC.yaml",
                   help="RuleSpec whose anomaly_band targets with mode: exported are served at /exported/metrics")
    p.add_argument("--store", metavar="DIR", help="model store from `promcast fit` (and from pre-fits) to preload, "
                                                  "so stored series answer warm (default: store.dir / $PROMCAST_STORE_DIR)")

    p = command("fetch", "fetch history into a CSV", _cmd_fetch,
                "Fetch the history of a PromQL expression into a CSV (timestamp,value[,series]).")
    _add_source(p, with_input=False)
    p.add_argument("--output", required=True, metavar="OUT.csv", help="CSV file to write (atomically)")

    p = command("forecast", "forecast a series with a band", _cmd_forecast)
    _add_source(p, with_input=True)
    p.add_argument("--horizon", required=True, metavar="DUR", help="how far ahead to forecast, e.g. 1d")
    p.add_argument("--model", default="auto", help="model name (default: auto, per-series selection; "
                                                   "prophet, holt_winters, ... stay selectable)")
    p.add_argument("--interval", default="0.95", help="band's coverage probability (default: 0.95)")
    p.add_argument("--output", metavar="OUT.csv", help="CSV timestamp,yhat,yhat_lower,yhat_upper (default: stdout)")
    p.add_argument("--plot", metavar="OUT.png", help="draw history, forecast and band into a PNG")

    p = command("detect", "score every row for anomalies (causal, walk-forward)", _cmd_detect)
    _add_source(p, with_input=True)
    p.add_argument("--model", default="ensemble", help="model name (default: ensemble)")
    p.add_argument("--refit-every", default="1d", metavar="DUR", help="walk-forward refit cadence (default: 1d)")
    p.add_argument("--output", metavar="OUT.csv", help="CSV timestamp,value,anomaly_score (default: stdout)")
    p.add_argument("--plot", metavar="OUT.png", help="draw the series and mark anomalies into a PNG")

    p = command("predict", "predict disk exhaustion, memory leaks or capacity needs", _cmd_predict)
    p.add_argument("kind", choices=PREDICTABLE, help="what to predict")
    _add_source(p, with_input=True)
    _add_kind_params(p)
    p.add_argument("--format", choices=["json", "table"], default="json", help="output format (default: json)")
    p.add_argument("--plot", metavar="OUT.png", help="draw history, projection and limit into a PNG")

    p = command("rightsize", "recommend container requests and limits from forecast usage", _cmd_rightsize,
                "Recommend CPU and memory requests and limits for every container (cAdvisor usage, "
                "kube-state-metrics requests/limits) from the forecast of its usage over the horizon, "
                "grouped by workload, with the risk of throttling or OOM and the monthly cost difference.")
    _add_source(p, with_input=False, with_expr=False)  # the usage series are cAdvisor's and kube-state-metrics'
    p.add_argument("--namespace", metavar="NS", help="only this Kubernetes namespace (default: all)")
    p.add_argument("--horizon", default="30d", metavar="DUR", help="plan this far ahead (default: 30d)")
    p.add_argument("--format", choices=["table", "json", "yaml"], default="table",
                   help="table (default), json (one object per container) or yaml (patches for kubectl apply)")
    p.add_argument("--vpa", action="store_true", help="with --format yaml: VerticalPodAutoscalers in recommendation-only "
                                                    "mode (updateMode Off) held at or above the forecast requests")
    p.add_argument("--cpu-cost", metavar="C", help="price of one core of requests per month (30 days), e.g. 23 or €23")
    p.add_argument("--memory-cost", metavar="M", help="price of one GiB of requests per month (30 days), e.g. 3.2")
    p.add_argument("--currency", metavar="SYMBOL", help="currency symbol to print (default: the one in the costs, else $)")

    p = command("init", "find the metric families you have and write a RuleSpec and dashboards for them", _cmd_init,
                "Look for well-known metric families (node_exporter, kubelet volumes, cAdvisor and kube-state-metrics, "
                "Grafana Beyla / OpenTelemetry HTTP histograms, Go and JVM runtimes) with bounded /api/v1/series calls, "
                "write OUTPUT/promcast-rules.yaml (a RuleSpec for `promcast generate-rules`) and the dashboards that "
                "fit, and print one line per preset: found N series, or skipped and why.")
    p.add_argument("--prometheus-url", metavar="URL", help="Prometheus (or compatible) base URL")
    p.add_argument("--source", choices=["demo"], help="use the embedded demo metrics instead of Prometheus")
    p.add_argument("--output", required=True, metavar="DIR", help="directory for promcast-rules.yaml and dashboards/")
    p.add_argument("--namespace", metavar="NS", help="only this Kubernetes namespace for the Kubernetes presets")
    p.add_argument("--force", action="store_true",
                   help="overwrite a promcast-rules.yaml or dashboard there that differs (e.g. edited since)")

    p = command("generate-rules", "turn a RuleSpec into Prometheus rules", _cmd_generate_rules)
    p.add_argument("--spec", required=True, metavar="SPEC.yaml", help="RuleSpec file")
    p.add_argument("--output", required=True, metavar="DIR", help="directory for the rule files")
    p.add_argument("--format", choices=["prometheus", "prometheusrule", "both"], default="prometheus")
    p.add_argument("--prometheus-url", metavar="URL", help="override the spec's source.prometheus_url")
    p.add_argument("--source", choices=["demo", "csv"], help="fit on the embedded demo metrics or the spec's CSV files")
    p.add_argument("--check", action="store_true", help="run promtool check/test rules; write nothing if they fail")
    p.add_argument("--force", action="store_true", help="overwrite files promcast did not generate")
    p.add_argument("--executor", choices=["local", "dask"], default="local")

    p = command("fit", "fit a model for every series of an expression and store it", _cmd_fit,
                "Fit a model for every series of a PromQL expression (one task per series, each fetching "
                "its own history) and store the fits for `promcast serve` to load.")
    _add_source(p, with_input=False)
    p.add_argument("--model", required=True, help="model name, e.g. prophet or mad")
    p.add_argument("--store", metavar="DIR",
                   help="model store directory (default: store.dir / $PROMCAST_STORE_DIR, else ./promcast-store)")
    p.add_argument("--executor", choices=["local", "dask"],
                   help="local: a process pool sized to the cores; dask: a Dask cluster "
                        "(default: executor.kind / $PROMCAST_EXECUTOR_KIND, else local)")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="Dask scheduler, e.g. tcp://HOST:8786 (default: executor.scheduler, "
                        "$DASK_SCHEDULER_ADDRESS, else a LocalCluster with 2 workers)")

    p = sub.add_parser(
        "remediate", help="act on promcast's alerts from Alertmanager (PVC expansion, rolling restart, replicas)",
        description="Serve an Alertmanager webhook receiver (POST /alertmanager, payload version 4; GET /healthz, "
                    "/metrics) that turns firing promcast alerts into bounded Kubernetes actions: expand a PVC, "
                    "restart a leaking workload, raise an HPA's maxReplicas. Dry-run unless the config says "
                    "dry_run: false; only allow-listed namespaces; a cooldown per object and a global rate limit; "
                    "every decision is one JSON line in the audit log. See docs/remediation.md.",
        epilog="Alertmanager: a receiver with webhook_configs: [{url: http://HOST:PORT/alertmanager}].")
    p.set_defaults(handler=_cmd_remediate)
    p.add_argument("--config", required=True, metavar="remediation.yaml", help="remediation config (see docs/remediation.md)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=9095, help="port to listen on (default: 9095)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log verbosity")

    p = command("provision", "create the datasource and dashboards in Grafana", _cmd_provision)
    p.add_argument("--grafana-url", required=True, metavar="URL")
    p.add_argument("--token", help="Grafana service account token")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--backend-url", metavar="URL", help="URL Grafana uses to reach promcast")

    p = command("evaluate", "score models on the NAB corpus and backtest forecasts", _cmd_evaluate)
    p.add_argument("--nab", required=True, metavar="DIR", help="NAB folder with windows.json")
    p.add_argument("--windows", metavar="FILE", help="label windows JSON (default: DIR/windows.json)")
    p.add_argument("--model", action="append", help="model to score (repeatable; default: all)")
    p.add_argument("--refit-every", default="1d", metavar="DUR", help="walk-forward refit cadence (default: 1d)")
    p.add_argument("--workers", type=int, help="processes to use (default: one per core)")
    p.add_argument("--executor", choices=["local", "dask"], help="where files are scored (default: local)")
    p.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address, e.g. tcp://HOST:8786")
    p.add_argument("--cv", type=int, metavar="K", nargs="?", const=4,  # const: evaluation.cv.DEFAULT_FOLDS
                   help="also print held-out NAB scores by grouped K-fold cross-validation over the files "
                        "(threshold chosen on the other folds; K defaults to 4)")
    p.add_argument("--no-backtest", action="store_true", help="skip the forecast backtest")
    p.add_argument("--output", metavar="OUT.json", help="also write the full report as JSON")
    p.add_argument("--backtest", action="store_true",
                   help="only the forecast benchmark: every forecaster (or --model) on the same rolling origins "
                        "over each real series' second half, with auto's settings chosen by grouped CV")
    p.add_argument("--origins", type=int, default=6, help="rolling origins per file for --backtest (default: 6)")
    return parser


# ------------------------------------------------------------------------------------------- handlers
def _settings(args, **overrides):
    from .config import load_settings

    overrides = {k: v for k, v in overrides.items() if v is not None}
    if getattr(args, "log_level", None):
        overrides["log_level"] = args.log_level
    return load_settings(getattr(args, "config", None), overrides=overrides)


def _history_end(args, source):
    """``--end``: ``now`` is where the source's data ends (a pinned demo's fixed now), else the time given."""
    import pandas as pd

    from .durations import parse_time
    from .sources.base import source_now

    if str(args.end).strip().lower() == "now":
        return source_now(source)
    return pd.Timestamp(parse_time(args.end, what="--end"))


def _source_from_args(args, settings):
    """The source an --expr is fetched from: --source demo, --prometheus-url or the configured URL."""
    missing = ("no history source: give --prometheus-url URL, --source demo"
               + (" or --input F.csv" if hasattr(args, "input") else ""))
    return settings.source_spec(args.source, missing=missing).open()


def load_histories(args, settings):
    """History for commands that take ``--input`` or an ``--expr`` on a source."""
    from .durations import parse_duration

    if getattr(args, "input", None):
        if args.expr or args.prometheus_url or args.source:
            raise InputError("give either --input F.csv or --expr with a source, not both")
        from .sources.files import read_csv_histories

        return read_csv_histories(args.input)
    if args.prometheus_url and args.source:
        raise InputError("give either --prometheus-url or --source demo, not both")
    if not args.expr:
        raise InputError("--expr PROMQL is required with a source" +
                         (" (or give --input F.csv)" if hasattr(args, "input") else ""))
    history = parse_duration(args.history, what="--history")
    step = parse_duration(args.step, what="--step")
    source = _source_from_args(args, settings)
    import pandas as pd

    end = _history_end(args, source)
    return source.query_range(args.expr, end - pd.Timedelta(history), end, pd.Timedelta(step))


def _cmd_serve(args) -> int:
    from .service.server import run_server

    settings = _settings(args, **{"server.host": args.host, "server.port": args.port,
                                  "prometheus.url": args.prometheus_url, "exported.spec": args.rules_spec,
                                  "store.dir": args.store})
    run_server(settings)
    return 0


def _cmd_remediate(args) -> int:
    from .remediation.server import run_remediation

    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port} is not a TCP port (1-65535)")
    run_remediation(args.config, args.host, args.port)
    return 0


def _cmd_fetch(args) -> int:
    from .sources.files import write_csv_histories

    settings = _settings(args, **{"prometheus.url": args.prometheus_url})
    histories = load_histories(args, settings)
    if not histories:
        raise InputError(f"{args.expr!r} matched no series in that range; nothing written to {args.output}")
    rows = write_csv_histories(args.output, histories)
    log.info("wrote %d rows of %d series to %s", rows, len(histories), args.output)
    return 0


def _open_output(path):
    """An atomic file when ``path`` is given, else stdout."""
    import contextlib

    from .atomic import atomic_open

    if path:
        try:
            return atomic_open(path, "w")
        except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return contextlib.nullcontext(sys.stdout)


def _format_time(index) -> list[str]:
    return list(index.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _interval(text) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise InputError(f"bad --interval {text!r}: expected a probability between 0 and 1, e.g. 0.95")
    return value


def _cmd_forecast(args) -> int:
    from .durations import parse_duration
    from .forecasting import forecast_histories, report_failures
    from .models.registry import get_model_class
    from .service.fitting import model_extra_params

    settings = _settings(args, **{"prometheus.url": args.prometheus_url})
    horizon = parse_duration(args.horizon, what="--horizon")
    interval = _interval(args.interval)
    get_model_class(args.model)
    histories = _require_histories(load_histories(args, settings), args)
    result = forecast_histories(histories, args.model, horizon, interval,
                                **model_extra_params(args.model, settings.models))
    result.raise_if_all_failed("forecast")
    report_failures(result)
    several = len(result.items) > 1
    with _open_output(args.output) as out:
        out.write("timestamp,yhat,yhat_lower,yhat_upper" + (",series\n" if several else "\n"))
        for item in result.items:
            frame = item.forecast
            suffix = "," + _csv_quote(item.history.legend) if several else ""
            for stamp, row in zip(_format_time(frame.index), frame.itertuples(index=False)):
                out.write(f"{stamp},{row.yhat:.6g},{row.yhat_lower:.6g},{row.yhat_upper:.6g}{suffix}\n")
    if args.plot:
        from .plots import plot_forecast

        plot_forecast([(i.history.legend, i.history.values, i.forecast) for i in result.items], args.plot,
                      title=f"{args.model} forecast, {args.horizon} ahead, {interval:.0%} band")
    return 1 if result.failures else 0


def _cmd_detect(args) -> int:
    from .durations import parse_duration
    from .forecasting import detect_histories, report_failures
    from .models.calibration import alert_threshold
    from .models.registry import get_model
    from .service.fitting import model_extra_params

    settings = _settings(args, **{"prometheus.url": args.prometheus_url})
    parse_duration(args.refit_every, what="--refit-every")
    params = model_extra_params(args.model, settings.models, forecast=False)
    model = get_model(args.model, **params)  # an unknown model fails before any fetch (weights: in the settings)
    histories = _require_histories(load_histories(args, settings), args)
    result = detect_histories(histories, args.model, refit_every=args.refit_every, **params)
    result.raise_if_all_failed("detect")
    report_failures(result)
    several = len(result.items) > 1
    with _open_output(args.output) as out:
        out.write("timestamp,value,anomaly_score" + (",series\n" if several else "\n"))
        for item in result.items:
            suffix = "," + _csv_quote(item.history.legend) if several else ""
            values = item.history.values.to_numpy()
            for stamp, value, score in zip(_format_time(item.scores.index), values, item.scores.to_numpy()):
                out.write(f"{stamp},{value:.10g},{score:.6f}{suffix}\n")
    if args.plot:
        from .plots import plot_anomalies

        plot_anomalies([(i.history.legend, i.history.values, i.scores) for i in result.items], args.plot,
                       threshold=alert_threshold(model),
                       title=f"{args.model} anomaly scores (walk-forward)")
    return 1 if result.failures else 0


def _csv_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _require_histories(histories, args):
    if not histories:
        raise InputError(f"{args.expr!r} matched no series in that range" if args.expr else "no history")
    return histories


def _cmd_evaluate(args) -> int:
    import json

    from .durations import parse_duration
    from .evaluation.runner import evaluate, format_report, report_json
    from .models.registry import get_model_class, model_names

    settings = _settings(args)
    if args.backtest:
        return _evaluate_forecasts(args, settings)
    models = args.model or model_names()
    for name in models:
        get_model_class(name)
    parse_duration(args.refit_every, what="--refit-every")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"bad --workers {args.workers}: expected 1 or more")
    if args.cv is not None and args.cv < 2:
        raise InputError(f"bad --cv {args.cv}: expected 2 or more folds, e.g. --cv 4")
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(models), unit="model", desc="evaluate", file=sys.stderr)
        progress = lambda _model: bar.update(1)  # noqa: E731
    from .executors import make_executor

    kind = args.executor or settings.executor.kind
    with make_executor(kind, args.scheduler or settings.executor.scheduler, workers=args.workers) as executor:
        results = evaluate(args.nab, models, windows=args.windows, refit_every=args.refit_every,
                           workers=args.workers, run_backtest=not args.no_backtest, progress=progress,
                           executor=executor, cv=args.cv)
    print(format_report(results))
    if args.output:
        from .atomic import atomic_write_text

        atomic_write_text(args.output, json.dumps(report_json(results), indent=2, default=float) + "\n")
    return 0


def _evaluate_forecasts(args, settings) -> int:
    """``evaluate --backtest``: the forecast table of issue 14 (see :mod:`.evaluation.forecasts`)."""
    import json

    from .evaluation.forecasts import format_table, known_models, run_backtest
    from .executors import make_executor

    known = known_models()
    for name in args.model or []:
        if name not in known:
            raise InputError(f"unknown forecaster {name!r} for --backtest; known: {', '.join(known)}")
    if args.origins < 5:
        raise InputError(f"bad --origins {args.origins}: the backtest needs at least 5 per file")
    kind = args.executor or settings.executor.kind
    with make_executor(kind, args.scheduler or settings.executor.scheduler, workers=args.workers) as executor:
        result = run_backtest(args.nab, args.model, windows=args.windows, origins=args.origins, executor=executor)
    print(format_table(result))
    if args.output:
        from .atomic import atomic_write_text

        atomic_write_text(args.output, json.dumps(result, indent=2, default=float) + "\n")
    return 0


def _cmd_predict(args) -> int:
    import json

    from . import maintenance
    from .kinds import registry as kinds
    from .kinds import report

    settings = _settings(args, **{"prometheus.url": args.prometheus_url})
    kind = kinds.get_kind(args.kind)
    options, limit_expr = _kind_options(args, kind)
    histories = _require_histories(load_histories(args, settings), args)
    if limit_expr is not None:
        limits = _fetch_like(args, settings, limit_expr.read(getattr(args, limit_expr.dest), limit_expr.flag))
        if kind is kinds.DISK:
            histories, options["capacity"] = maintenance.used_from_available(histories, limits)
        else:
            options[kind.limit_option] = maintenance.values_by_series(histories, limits, what=kind.limit_option)
    predictions = report.predictions(args.kind, histories, **options)
    rows = report.rows(args.kind, predictions)
    if args.format == "table":
        print(report.format_table(rows, kind=args.kind))
    else:
        for row in rows:
            print(json.dumps(row, default=str))
    if args.plot:
        _plot_predictions(args, predictions, options)
    failed = [row for row in rows if row.get("error")]
    for row in failed:
        log.error("series %s failed: %s", row["series"], row["error"])
    return 1 if failed else 0


def _plot_predictions(args, predictions, options) -> None:
    from .kinds.registry import get_kind
    from .maintenance import plot_projection

    ok = [p for p in predictions if p.failure is None]
    if not ok:
        return
    limit_key = get_kind(args.kind).limit_option
    limits = options[limit_key] if isinstance(options[limit_key], list) else [options[limit_key]] * len(predictions)
    first = predictions.index(ok[0])
    if len(ok) > 1:
        log.info("--plot draws the first series, %s", ok[0].history.legend)
    plot_projection(ok[0].history, ok[0].projection(), limits[first], args.plot,
                    title=f"{args.kind}: {ok[0].history.legend}", limit_label=limit_key)


def _fetch_like(args, settings, expr):
    """Fetch a second expression (size, limit) over the same range as --expr."""
    import copy

    other = copy.copy(args)
    other.expr = expr
    other.input = None
    found = load_histories(other, settings)
    if not found:
        raise InputError(f"{expr!r} matched no series in that range")
    return found


def _cost(text, what: str) -> tuple[float, str | None]:
    """``23``, ``€23``, ``23€`` or ``23 EUR`` -> (23.0, symbol or None)."""
    import re

    match = re.fullmatch(r"\s*([^\d\s.+-]*)\s*(\d+(?:\.\d*)?|\.\d+)\s*([^\d\s]*)\s*", str(text))
    if not match or (match.group(1) and match.group(3)):
        raise InputError(f"bad {what} {text!r}: expected a price of 0 or more, e.g. 23 or €23")
    return float(match.group(2)), (match.group(1) or match.group(3) or None)


def _cmd_rightsize(args) -> int:
    import json

    import pandas as pd

    from . import rightsize as rs
    from .durations import parse_duration

    settings = _settings(args, **{"prometheus.url": args.prometheus_url})
    if args.prometheus_url and args.source:
        raise InputError("give either --prometheus-url or --source demo, not both")
    horizon = pd.Timedelta(parse_duration(args.horizon, what="--horizon"))
    history = pd.Timedelta(parse_duration(args.history, what="--history"))
    step = pd.Timedelta(parse_duration(args.step, what="--step"))
    prices = None
    if args.vpa and args.format != "yaml":
        raise InputError("--vpa applies to --format yaml")
    if (args.cpu_cost is None) != (args.memory_cost is None):
        raise InputError("give both --cpu-cost and --memory-cost (per core and per GiB of requests per month)")
    if args.cpu_cost is not None:
        cpu, cpu_symbol = _cost(args.cpu_cost, "--cpu-cost")
        memory, memory_symbol = _cost(args.memory_cost, "--memory-cost")
        prices = rs.Prices(cpu, memory, args.currency or cpu_symbol or memory_symbol or "$")
    source = _source_from_args(args, settings)
    end = _history_end(args, source)
    found = rs.fetch_containers(source, args.namespace, end - history, end, step)
    rows = rs.rightsize(found, horizon, prices)
    if args.format == "table":
        print(rs.format_table(rows, prices.currency if prices else "$", args.horizon), end="")
    elif args.format == "yaml":
        print(rs.format_yaml(rows, vpa=args.vpa), end="")
    else:
        for row in rows:
            print(json.dumps(row, default=str))
    failed = [r for r in rows if r.get("error")]
    for row in failed:
        log.error("%s/%s/%s failed: %s", row["namespace"], row["workload"], row["container"], row["error"])
    return 1 if failed else 0


def _cmd_init(args) -> int:
    from .config import env_name
    from .presets import run_init
    from .sources.prometheus import without_credentials

    if args.prometheus_url and args.source:
        raise InputError("give either --prometheus-url or --source demo, not both")
    settings = _settings(args, **{"prometheus.url": args.prometheus_url})
    source = _source_from_args(args, settings)
    if args.source == "demo":
        spec_source = {"demo": True}
    else:
        url = without_credentials(settings.prometheus.url)
        if url != settings.prometheus.url:
            log.warning("the credentials in the Prometheus URL are not written to the spec; give them to "
                        "generate-rules as %s and %s", env_name("prometheus.username"), env_name("prometheus.password"))
        spec_source = {"prometheus_url": url}
    try:
        result = run_init(source, args.output, spec_source=spec_source, namespace=args.namespace, force=args.force)
    finally:
        source.close()
    print("\n".join(result.lines()))
    return 0


def _cmd_generate_rules(args) -> int:
    from .rules import run_generate_rules

    settings = _settings(args)
    summary = run_generate_rules(args.spec, args.output, args.format, prometheus_url=args.prometheus_url,
                                 source=args.source, check=args.check, force=args.force, executor=args.executor,
                                 progress=sys.stderr.isatty(), settings=settings)
    print("\n".join(summary.lines()))
    return 0


def _cmd_fit(args) -> int:
    """Plan one task per series, run them on the chosen executor, store the fits, report failures last."""
    import pandas as pd

    from .batchfit import plan, run_fits
    from .durations import parse_duration
    from .executors import make_executor
    from .service.fitting import model_extra_params
    from .store import ModelStore

    if not args.expr:
        raise InputError("--expr PROMQL is required")
    if args.prometheus_url and args.source:
        raise InputError("give either --prometheus-url or --source demo, not both")
    settings = _settings(args, **{"prometheus.url": args.prometheus_url, "executor.kind": args.executor,
                                  "executor.scheduler": args.scheduler})
    kind, scheduler = settings.executor.kind, settings.executor.scheduler
    if scheduler and kind != "dask":
        raise InputError("--scheduler (executor.scheduler) applies to --executor dask only")
    history = pd.Timedelta(parse_duration(args.history, what="--history"))
    step = pd.Timedelta(parse_duration(args.step, what="--step"))
    spec = settings.source_spec(args.source).pinned()
    store = ModelStore(args.store or settings.store.dir or "promcast-store")
    source = spec.open()
    end = _history_end(args, source)
    try:
        # the settings' ensemble weights, as the service's pre-fits use (store keys leave them out)
        tasks = plan(spec, source, args.expr, args.model, {}, end - history, end, step,
                     extra_params=model_extra_params(args.model, settings.models))
    finally:
        source.close()
    with make_executor(kind, scheduler) as executor:
        log.info("fitting %d series with %s on the %s executor (%d workers)", len(tasks), args.model,
                 executor.name, executor.workers)
        summary = run_fits(tasks, executor, store)
    print("\n".join(summary.lines() + [f"store: {store.directory}"]))
    return 0 if summary.outputs else 1


def _cmd_provision(args) -> int:
    from .dashboards import provision

    _settings(args)
    summary = provision(args.grafana_url, token=args.token, user=args.user, password=args.password,
                        backend_url=args.backend_url)
    print("\n".join(summary.lines()))
    return 0




# ---------------------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "log_level", None) or "info")
    try:
        return int(args.handler(args) or 0)
    except PromcastError as exc:
        print(f"promcast {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("promcast: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
