"""The validation of a trained model: check the inputs, evaluate every case, write the report.

:func:`validate` is the entry point; ``surrogate validate`` calls it through
:func:`apps.validate_command.run_validate`.

Resuming: ``REPORT_DIR/validation.json`` records what is validated (model files'
hash, dataset, cases); a second call on the same folder skips the finished cases
(``cases/<id>.json``) and the finished reference solves (``references/``), and
refuses a folder that holds the validation of another model or dataset.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh.dataset import Dataset, DatasetWriter, load_sample
from mesh.io import atomic_write
from mesh.problem import ProblemDefinition

from .cases import (
    CASES_DIR,
    REFERENCES_DIR,
    REFERENCES_SPLIT,
    ValidateError,
    dataset_cases,
    done_cases,
    evaluate_case,
    fem_timings,
    held_out_plan,
    read_records,
    remove_leftovers,
    solve_references,
    write_case,
)
from .compare import COMPARE_DIR, comparison, comparison_html, run_labels
from .report import summarize, write_report

log = logging.getLogger(__name__)

FINGERPRINT = "validation.json"
DEFAULT_N_SOLVE = 4

#: called once per finished case with its record (progress display, tests)
OnCase = Callable[[dict[str, Any]], None]


@dataclass
class ValidationResult:
    """What :func:`validate` produced.

    Attributes
    ----------
    report : path of ``report.html``.
    summary : the content of ``summary.json`` of the main run.
    failed : outputs whose RRMSE exceeds its threshold (empty when all pass).
    compare : run label -> summary of every compared run (main run first), or None.
    prediction_failures : cases on which the model raised (``{id, stage, error, message}``).
    """

    report: Path
    summary: dict[str, Any]
    failed: list[str] = field(default_factory=list)
    compare: dict[str, dict[str, Any]] | None = None
    prediction_failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every threshold is met and the model predicted every case."""
        return not self.failed and not self.prediction_failures


# ------------------------------------------------------------------------ checks
def load_run(run: Path) -> Any:
    """Load the trained model of a run folder (a clear error when the folder is missing)."""
    import surrogates

    run = Path(run)
    if not run.exists():
        raise ValidateError(f"run folder '{run}' does not exist")
    if not run.is_dir():
        raise ValidateError(f"'{run}' is a file, not a run folder")
    return surrogates.load(run)


def problem_mismatch(model: ProblemDefinition, data: ProblemDefinition) -> list[str]:
    """How a dataset's problem definition differs from the one a model was trained on.

    The inputs must be the same; the dataset must hold every output the model predicts
    (it may hold more); common features must have the same unit. Empty when compatible.
    """
    out = []

    def names(x: set[str]) -> str:
        return ", ".join(sorted(x))

    for group in ("inputs", "input_fields"):
        a, b = set(getattr(model, group)), set(getattr(data, group))
        if a - b:
            out.append(f"{group}: the model needs {names(a - b)}, absent from the dataset")
        if b - a:
            out.append(f"{group}: the dataset has {names(b - a)}, unknown to the model")
    for group in ("outputs", "output_scalars"):
        a, b = set(getattr(model, group)), set(getattr(data, group))
        if a - b:
            out.append(f"{group}: the model predicts {names(a - b)}, absent from the dataset")
    for group in ("inputs", "input_fields", "outputs", "output_scalars"):
        ga, gb = getattr(model, group), getattr(data, group)
        for n in sorted(set(ga) & set(gb)):
            if ga[n].unit != gb[n].unit:
                out.append(f"unit of '{n}': {ga[n].unit} for the model, {gb[n].unit} in the dataset")
            if group in ("outputs", "input_fields") and ga[n].location != gb[n].location:
                out.append(f"'{n}' is {ga[n].location} data for the model, {gb[n].location} data "
                           "in the dataset")
    return out


def check_problem(model: Any, dataset: Dataset, run: Path) -> None:
    """Raise :class:`ValidateError` naming the features that differ."""
    diff = problem_mismatch(model.problem, dataset.problem)
    if diff:
        raise ValidateError(
            f"dataset '{dataset.name}' ({dataset.root}) does not match the problem the model in "
            f"'{run}' was trained on:\n  " + "\n  ".join(diff))


def check_thresholds(max_rrmse: dict[str, float] | None, problem: ProblemDefinition) -> dict[str, float]:
    """Validate ``--max-rrmse`` thresholds: known output names, positive numbers."""
    known = [*problem.outputs, *problem.output_scalars]
    out = {}
    for name, value in (max_rrmse or {}).items():
        if name not in known:
            raise ValidateError(f"--max-rrmse names unknown output '{name}'; the model's outputs: "
                                f"{', '.join(known) or 'none'}")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValidateError(f"--max-rrmse {name}={value!r}: the limit must be a number") from None
        if not v > 0 or math.isinf(v):
            raise ValidateError(f"--max-rrmse {name}={value}: the limit must be a positive number")
        out[name] = v
    return out


def model_hash(run: Path) -> str:
    """SHA-256 of the model's description and weights (another training -> another hash)."""
    h = hashlib.sha256()
    for name in sorted(p.name for p in Path(run).iterdir()
                       if p.is_file() and p.name in ("model.yaml", "weights.safetensors")):
        with open(Path(run) / name, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def check_resumable(out: Path, fingerprint: dict[str, Any]) -> None:
    """Record what ``out`` validates, or check that it is what it already holds."""
    path = out / FINGERPRINT
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = None
        if old is not None:
            diff = [f"{k}: {old.get(k)!r} there, {v!r} now" for k, v in fingerprint.items()
                    if old.get(k) != v]
            if diff:
                raise ValidateError(
                    f"'{out}' holds the validation of something else ({'; '.join(diff)}); resuming "
                    "would mix the two: choose a new --out folder or delete this one")
            return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(fingerprint, indent=1)))


# -------------------------------------------------------------------- evaluation
class _Progress:
    """A progress bar when asked for (``apps.console.progress_bar``), else nothing."""

    def __init__(self, show: bool, description: str, total: int) -> None:
        self.show, self.description, self.total = show, description, total

    def __enter__(self) -> Callable[[str], None]:
        if not self.show:
            return lambda label="": None
        from ..console import progress_bar

        self._cm = progress_bar(self.description, self.total)
        return self._cm.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self.show:
            self._cm.__exit__(*exc)


def _label(record: dict[str, Any]) -> str:
    s = record["score"]
    return f"{record['id']}: mean RRMSE {s:.3g}" if s is not None and not math.isnan(s) else record["id"]


def evaluate_and_write(model: Any, sample: Any, cases_dir: Path, *, fem: dict[str, float] | None,
                       source: str, on_case: OnCase | None, failures: list[dict[str, Any]]) -> str:
    """Evaluate one case and write its files; a model that fails on it is recorded in
    ``failures`` (``{id, stage, error, message}``) and the others go on. Returns a label."""
    try:
        mesh, record, series = evaluate_case(model, sample, fem=fem, source=source)
    except Exception as exc:  # noqa: BLE001 -- the model failed on this case: a result, not a crash
        log.warning("the model failed on case %s: %s: %s", sample.id, type(exc).__name__, exc)
        failures.append({"id": sample.id, "stage": "prediction", "error": type(exc).__name__,
                         "message": str(exc)})
        return f"{sample.id}: prediction failed ({type(exc).__name__})"
    write_case(cases_dir, mesh, record, series)
    if on_case is not None:
        on_case(record)
    return _label(record)


def evaluate_dataset(model: Any, view: Dataset, cases_dir: Path, *, fem: dict[str, dict] | None,
                     source: str, progress: bool, on_case: OnCase | None,
                     description: str = "predicting") -> list[dict[str, Any]]:
    """Evaluate every case of ``view`` not yet finished in ``cases_dir``; return the cases on
    which the model failed."""
    cases_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(cases_dir)
    done = done_cases(cases_dir)
    failures: list[dict[str, Any]] = []
    with _Progress(progress, description, len(view)) as advance:
        for entry in view.entries:
            if entry.id in done:
                advance(f"{entry.id} (done before)")
                continue
            advance(evaluate_and_write(model, view[entry.id], cases_dir, fem=(fem or {}).get(entry.id),
                                       source=source, on_case=on_case, failures=failures))
    return failures


def solve_and_evaluate(model: Any, dataset: Dataset, out: Path, cases_dir: Path, n_solve: int, *,
                       workers: int | None, scheduler: str | None, progress: bool,
                       on_case: OnCase | None
                       ) -> tuple[Dataset, list[dict[str, Any]], list[dict[str, Any]]]:
    """FEM-solve ``n_solve`` new cases of the dataset's recipe through Dask and evaluate each
    as it arrives; return (the references dataset, the failed solves, the failed predictions)."""
    from physics.generate import sample_id

    recipe, seed, indices = held_out_plan(dataset, n_solve)
    root = out / REFERENCES_DIR
    prov = {"generator": "apps.validation (held-out FEM re-solves)", "recipe": recipe.model_dump(mode="json"),
            "seed": seed, "indices": indices, "source_dataset": str(dataset.root)}
    writer = DatasetWriter(root, f"{dataset.name}-held-out", recipe.problem_definition(),
                           time_dependent=recipe.time_dependent,
                           description=f"new cases of '{dataset.name}' solved for a validation",
                           provenance=prov)
    cases_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(cases_dir)
    have_refs, have_cases = writer.done(), done_cases(cases_dir)
    todo = [i for i in indices if sample_id(i) not in have_refs]
    failures: list[dict[str, Any]] = []
    bad_predictions: list[dict[str, Any]] = []
    with _Progress(progress, f"solving {len(todo)} and predicting", len(indices)) as advance:
        for i in indices:
            if sample_id(i) in have_refs:
                advance(f"{sample_id(i)} (solved before)")
        for outcome in solve_references(recipe, seed, todo, workers, scheduler):
            if outcome.status != "done":
                failures.append(outcome.failure.summary())
                advance(f"{outcome.id} failed: {outcome.failure.error}")
                continue
            atomic_write(root / "generation" / f"{outcome.id}.json",
                         lambda tmp, r=outcome.record: tmp.write_text(json.dumps(r, indent=1, default=str)))
            entry = writer.add(outcome.sample)
            sample = load_sample(root, entry, writer.manifest)  # exactly what a resumed run reads
            advance(evaluate_and_write(model, sample, cases_dir, fem=outcome.record["timings"],
                                       source="fem", on_case=on_case, failures=bad_predictions))
            have_cases.add(sample.id)
    solved = sorted(writer.done() & {sample_id(i) for i in indices})
    refs = writer.finish({REFERENCES_SPLIT: solved},
                         provenance={"failures": sorted(failures, key=lambda f: f["index"])})
    if not solved:
        first = failures[0] if failures else {}
        raise ValidateError(f"none of the {len(indices)} reference solves succeeded"
                            + (f"; first: {first.get('id')}: {first.get('error')}: {first.get('message')}"
                               if first else ""))
    pending = sorted(set(solved) - have_cases)  # solved by an interrupted run, not yet evaluated
    if pending:
        bad_predictions += evaluate_dataset(model, refs.subset(pending), cases_dir, fem=fem_timings(root),
                                            source="fem", progress=False, on_case=on_case)
    return refs, sorted(failures, key=lambda f: f["index"]), sorted(bad_predictions, key=lambda f: f["id"])


# -------------------------------------------------------------------------- main
def validate(run: Path, dataset: Path, out: Path, *, solve: bool = False, workers: int | None = None,
             scheduler: str | None = None, split: str | None = None,
             max_rrmse: dict[str, float] | None = None, compare: Sequence[Path] | None = None,
             n_solve: int | None = None, n_worst: int = 3, pictures: bool = True,
             progress: bool = True, on_case: OnCase | None = None) -> ValidationResult:
    """Validate the model of ``run`` and write the report into ``out``.

    Parameters
    ----------
    run : run folder of the trained model.
    dataset : dataset folder.
    out : report folder (created; re-running on it resumes).
    solve : compare with FEM solves of ``n_solve`` new cases of the dataset's recipe
        (indices ``n, n+1, ...``, never seen in training) instead of a dataset split.
    workers, scheduler : the Dask cluster of the solves: ``workers`` local worker
        processes (default one per core, at most ``n_solve``; 0 solves in this
        process), or the address of a running scheduler.
    split : the dataset split to validate on (default ``test`` if present, else all);
        not with ``solve``.
    max_rrmse : output name -> largest acceptable RRMSE of the main run.
    compare : other run folders, validated on the same cases and shown side by side.
    n_solve : number of FEM re-solves (default 4).
    n_worst : worst cases listed and rendered.
    pictures : render the worst cases (pyvista, off-screen).
    progress : show progress bars.
    on_case : called with each finished case's record.

    Returns
    -------
    :class:`ValidationResult`.

    Raises
    ------
    ValidateError
        Missing run folder, a dataset that does not match the model's problem (naming the
        features), thresholds naming unknown outputs, ``--solve`` on a dataset without a
        recipe, a report folder holding another validation.
    surrogates.ModelFormatError, mesh.DatasetError
        Unreadable model or dataset folder.
    """
    run, dataset, out = Path(run), Path(dataset), Path(out)
    plan = prepare(run, dataset, solve=solve, workers=workers, scheduler=scheduler, split=split,
                   max_rrmse=max_rrmse, compare=compare, n_solve=n_solve)
    check_resumable(out, plan.fingerprint(run))
    cases_dir = out / CASES_DIR
    if solve:
        refs, failures, bad = solve_and_evaluate(plan.model, plan.dataset, out, cases_dir, plan.n_solve,
                                                 workers=workers, scheduler=scheduler, progress=progress,
                                                 on_case=on_case)
        plan.view, plan.fem = refs.split(REFERENCES_SPLIT), fem_timings(out / REFERENCES_DIR)
    else:
        failures, bad = [], evaluate_dataset(plan.model, plan.view, cases_dir, fem=plan.fem,
                                             source=plan.source, progress=progress, on_case=on_case)
    records = _finished(cases_dir, plan.view.ids)
    summary = summarize(records, plan.model.problem, plan.settings(0), thresholds=plan.thresholds,
                        failures=failures + bad, n_worst=n_worst)
    summaries, extra = None, ""
    if plan.others:
        summaries = {plan.labels[0]: summary}
        for k in range(1, len(plan.runs)):
            label = plan.labels[k]
            summaries[label] = _validate_other(plan, k, out / COMPARE_DIR / label, failures,
                                               n_worst=n_worst, pictures=pictures, progress=progress)
        summary["compare"] = comparison(summaries)
        extra = comparison_html(summary["compare"])
    path = write_report(out, summary, records, cases_dir, plan.model.problem, run_dir=run,
                        model_metrics=plan.model.metrics, pictures=pictures, extra_html=extra)
    failed = [k for k, c in summary["thresholds"].items() if not c["passed"]]
    return ValidationResult(path, summary, failed, summaries, bad)


def _finished(cases_dir: Path, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The records of the finished cases among ``ids``, sorted by id."""
    return read_records(cases_dir, sorted(done_cases(cases_dir) & set(ids)))


def _validate_other(plan: Plan, k: int, sub: Path, failures: list[dict[str, Any]], *, n_worst: int,
                    pictures: bool, progress: bool) -> dict[str, Any]:
    """Validate compared run ``k`` on the main run's cases into ``sub``; return its summary."""
    run, model, label = plan.runs[k], plan.others[k - 1], plan.labels[k]
    check_resumable(sub, plan.fingerprint(run))
    bad = evaluate_dataset(model, plan.view, sub / CASES_DIR, fem=plan.fem, source=plan.source,
                           progress=progress, on_case=None, description=f"predicting ({label})")
    records = _finished(sub / CASES_DIR, plan.view.ids)
    summary = summarize(records, model.problem, plan.settings(k), failures=failures + bad, n_worst=n_worst)
    write_report(sub, summary, records, sub / CASES_DIR, model.problem, run_dir=run,
                 model_metrics=model.metrics, pictures=pictures)
    return summary


@dataclass
class Plan:
    """What a validation checks, settled before anything is computed (see :func:`prepare`)."""

    runs: list[Path]
    labels: list[str]
    model: Any
    others: list[Any]
    dataset: Dataset
    thresholds: dict[str, float]
    solve: bool
    n_solve: int | None
    cases: str
    references: str
    view: Any = None
    fem: dict[str, dict] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """Where the references come from: ``"fem"`` (solved now) or ``"dataset"``."""
        return "fem" if self.solve else "dataset"

    def settings(self, k: int) -> dict[str, Any]:
        """The ``validation`` block of run ``k``'s summary."""
        m = self.model if k == 0 else self.others[k - 1]
        return {"run": str(self.runs[k]), "run_name": self.labels[k], "family": m.family,
                "dataset": str(self.dataset.root), "dataset_name": self.dataset.name,
                "cases": self.cases, "references": self.references,
                "mode": "solve" if self.solve else "dataset"}

    def fingerprint(self, run: Path) -> dict[str, Any]:
        """What a report folder holds: another value on a re-run means another validation."""
        return {"run": str(Path(run).resolve()), "model_sha256": model_hash(run),
                "dataset": str(self.dataset.root.resolve()), "mode": "solve" if self.solve else "dataset",
                "cases": None if self.solve else self.view.ids}


def prepare(run: Path, dataset: Path, *, solve: bool, workers: int | None, scheduler: str | None,
            split: str | None, max_rrmse: dict[str, float] | None, compare: Sequence[Path] | None,
            n_solve: int | None) -> Plan:
    """Check every argument and load the models and the dataset; raise :class:`ValidateError`
    (naming what is wrong) before any work is done."""
    if workers is not None and scheduler is not None:
        raise ValidateError("give either --workers (local cluster) or --scheduler (address), not both")
    if workers is not None and workers < 0:
        raise ValidateError(f"--workers must be >= 0 (0: solve in this process); got {workers}")
    if n_solve is not None and not solve:
        raise ValidateError("--n-solve applies with --solve only")
    if split is not None and solve:
        raise ValidateError("--split does not apply with --solve (the cases are new FEM solves)")
    model = load_run(run)
    ds = Dataset(dataset)
    check_problem(model, ds, run)
    thresholds = check_thresholds(max_rrmse, model.problem)
    runs = [Path(run), *(Path(r) for r in compare or [])]
    others = []
    for r in runs[1:]:
        others.append(load_run(r))
        check_problem(others[-1], ds, r)
    plan = Plan(runs, run_labels(runs), model, others, ds, thresholds, solve, None, "", "")
    if solve:
        plan.n_solve = n_solve or DEFAULT_N_SOLVE
        _, seed, indices = held_out_plan(ds, plan.n_solve)  # fails early without a recipe
        plan.cases = (f"{plan.n_solve} new cases solved by FEM (samples {indices[0]}..{indices[-1]} of "
                      f"the dataset's recipe, seed {seed}; not in the dataset)")
        plan.references = "FEM solutions computed for this validation"
    else:
        plan.view, where = dataset_cases(ds, split)
        plan.fem = fem_timings(ds.root)
        plan.cases, plan.references = f"{where} of the dataset", "the fields stored in the dataset"
    return plan
