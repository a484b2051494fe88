"""The training loop of one fold: epochs x iterations, AMP, clipping, validation, best restore, SWA.

Robustness rules (a run can be killed at any moment and resumed, and never silently goes wrong):

* every epoch ends with an atomic checkpoint (``checkpoint/last.pt``; best weights in ``best.pt``);
* every random stream (patch sampling, augmentation, mixup, dropout) is re-seeded at the start
  of each epoch from ``(seed, fold, epoch)``, so ``--resume`` after a kill replays exactly the
  epochs an uninterrupted run would have run and reaches the same final weights;
* a non-finite loss stops the run with a clear message and leaves the last good checkpoint;
* a time budget stops cleanly (mid-epoch) and keeps the best model so far; the learning-rate
  schedule follows time as well as steps, so the rate has decayed by then.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.training import checkpoint as ckpt
from MedSegTrain.training.distributed import DistContext, barrier, broadcast_flag, shard, wrap_model
from MedSegTrain.training.loader import CachedCase, PatchSampler, Prefetcher
from MedSegTrain.training.logs import TensorBoardLog, plot_curves, write_csv
from MedSegTrain.training.objective import build_objective
from MedSegTrain.training.optim import build_optimizer
from MedSegTrain.training.options import RecipeOptions
from MedSegTrain.training.schedules import LRSchedule
from MedSegTrain.training.swa import SWAPlan, finish_average, new_average
from MedSegTrain.training.targets import OutputPlan
from MedSegTrain.training.validation import validate

Augmenter = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class FoldResult:
    """What one fold's training produced."""

    fold: int
    weights: dict[str, torch.Tensor]
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    stop_reason: str
    epochs_done: int
    data_wait_fraction: float
    seconds: float


@dataclass
class FoldJob:
    """Everything the loop needs for one fold."""

    config: dict[str, Any]  # validated: the saved form, and the mappings handed to the builders
    fold: int
    network: Mapping[str, Any]  # {"name", "args"} exactly as stored in the bundle
    train_cases: Sequence[CachedCase]
    val_cases: Sequence[CachedCase]
    output: OutputPlan  # what the output channels are: softmax labels or sigmoid regions (B4)
    out_dir: Path
    device: torch.device
    ctx: DistContext = field(default_factory=DistContext)
    progress: Any = None
    time_budget_s: float | None = None
    resume: bool = False
    init_weights: Mapping[str, torch.Tensor] | None = None
    freeze: Callable[[torch.nn.Module], None] | None = None
    augmenter: Augmenter | None = None
    on_snapshot: Callable[[dict[str, torch.Tensor]], None] | None = None
    stop_after_epochs: int | None = None  # tests: end the process after this many epochs
    options: RecipeOptions | None = None  # the typed view of ``config``; None: built from it


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``training.amp`` on ``device`` (None: full precision).

    ``auto``: bf16 (or fp16 where bf16 is missing) on CUDA, float32 on CPU. CPU bf16 (``bf16``) is
    about 2x faster on CPUs with native bf16 units, but runs of one seed were seen to differ on a
    loaded machine and to stop with a NaN loss now and then; float32 runs are identical, kill and
    resume included, so reproducibility is the default and bf16 an explicit choice. ``fp16_cuda``
    (B7, the BraTS paper's fp16): fp16 with loss scaling on CUDA, float32 on CPU, where fp16
    autocast is not offered.
    """
    if amp == "none" or (amp in ("auto", "fp16_cuda") and device.type != "cuda"):
        return None
    if device.type == "cuda":
        if amp in ("fp16", "fp16_cuda"):
            return torch.float16
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp == "fp16":
        raise MedSegError("training.amp = fp16 needs a CUDA device; on CPU use bf16, none or fp16_cuda")
    return torch.bfloat16


def config_digest(config: Mapping[str, Any]) -> str:
    """A fingerprint of the settings that must match for ``--resume`` (budget and fold choice excluded)."""
    relevant = json.loads(json.dumps(config, default=str))
    relevant.get("training", {}).pop("time_budget_minutes", None)
    relevant.get("split", {}).pop("folds", None)
    return hashlib.sha1(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


class FoldTrainer:
    """Trains one fold; :meth:`run` returns the :class:`FoldResult`."""

    def __init__(self, job: FoldJob) -> None:
        from MedSegTrain.networks import get_network

        self.job = job
        cfg = job.config
        self.cfg = cfg
        opts = self.opts = job.options or RecipeOptions.from_config(cfg)
        self.device = job.device
        self.ckpt_dir = Path(job.out_dir) / "checkpoint"
        torch.manual_seed(ckpt.stream_seed(opts.training_seed, job.fold, 1_000_000))  # initial weights
        self.model = get_network(job.network["name"], **job.network["args"]).to(self.device)
        if job.init_weights is not None:
            _load_matching(self.model, job.init_weights)
        if job.freeze is not None:
            job.freeze(self.model)
        if opts.training.channels_last:
            self.model = self.model.to(memory_format=_channels_last(opts.patch.mode))
        self.ddp = wrap_model(self.model, job.ctx, self.device)
        self.output = job.output
        activation = self.output.activation
        self.loss_fn = build_objective(cfg["loss"], activation).to(self.device)
        self.val_loss_fn = build_objective({**cfg["loss"], "deep_supervision": False}, activation)
        self.optimizer = build_optimizer(self.model.parameters(), cfg["optimizer"])
        self.schedule = LRSchedule(cfg["schedule"], opts.optimizer.lr)
        self.swa = SWAPlan(cfg["swa"], opts.optimizer.lr) if opts.swa.enabled else None
        self.amp_dtype = autocast_dtype(opts.training.amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        patch = opts.patch
        self.sampler = PatchSampler(
            job.train_cases,
            list(patch.size),
            patch.mode,
            patch.foreground_fraction,
            min_slice_foreground=patch.slice_min_foreground,
            n_slices=patch.slice_sampling.n_slices,
            exclude_background=patch.slice_sampling.exclude_background,
        )
        self.average: Any = None
        self.state = {
            "epoch": 0,
            "step": 0,
            "phase": "main",
            "elapsed": 0.0,
            "best_score": -math.inf,
            "best_epoch": -1,
            "bad_validations": 0,
            "history": [],
            "finished": False,
            "stop_reason": "",
            "wait": 0.0,
            "busy": 0.0,
            "val_seconds": 0.0,
        }
        self.best_weights: dict[str, torch.Tensor] | None = None
        self._epoch_wait = 0.0
        self.tb = TensorBoardLog(Path(job.out_dir) / "tensorboard", enabled=job.ctx.is_main)

    # ----------------------------------------------------------------- bookkeeping
    @property
    def main_epochs(self) -> int:
        return self.opts.training.epochs

    @property
    def total_epochs(self) -> int:
        return self.main_epochs + (self.swa.epochs if self.swa else 0)

    @property
    def steps_per_epoch(self) -> int:
        return self.opts.training.iterations_per_epoch

    def _checkpoint_state(self) -> dict[str, Any]:
        return {
            "format": 1,
            "fold": self.job.fold,
            "config_digest": config_digest(self.cfg),
            **self.state,
            "model": ckpt.cpu_state_dict(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "average": None
            if self.average is None
            else {k: v.detach().to("cpu", copy=True) for k, v in self.average.state_dict().items()},
        }

    def _save(self, plot: bool) -> None:
        if self.job.ctx.is_main:
            ckpt.save_checkpoint(self.ckpt_dir / ckpt.LAST, self._checkpoint_state())
            write_csv(Path(self.job.out_dir) / "log.csv", self.state["history"])
            if plot and self.state["history"]:  # rendering costs ~0.5 s: validation epochs and the end
                plot_curves(
                    Path(self.job.out_dir) / "curves.png",
                    self.state["history"],
                    title=f"fold {self.job.fold}",
                )
        barrier(self.job.ctx)

    def _restore(self) -> None:
        path = self.ckpt_dir / ckpt.LAST
        if not path.is_file():
            return
        saved = ckpt.load_checkpoint(path)
        if saved.get("config_digest") != config_digest(self.cfg):
            raise MedSegError(
                f"--resume: {path} was written with a different recipe or dataset plan; "
                "resume with the same settings or choose a new --out"
            )
        for key in self.state:
            self.state[key] = saved[key]
        self.model.load_state_dict(saved["model"])
        if self.state["phase"] == "swa":
            self._start_swa(fresh=False)
            self.average.load_state_dict(saved["average"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scaler.load_state_dict(saved["scaler"])
        if (self.ckpt_dir / ckpt.BEST).is_file():
            self.best_weights = ckpt.load_checkpoint(self.ckpt_dir / ckpt.BEST)["model"]
        self._log(f"fold {self.job.fold}: resumed after epoch {self.state['epoch']} from {path}")

    def _last_good(self) -> str:
        """Where the last good state is, for the NaN-stop message: the checkpoint, or that none exists."""
        path = self.ckpt_dir / ckpt.LAST
        if self.job.ctx.is_main and path.is_file():
            return (f"The last good checkpoint ({path}, after epoch {self.state['epoch']}) is kept; "
                    "continue from it with --resume.")
        return "No checkpoint was saved yet (the first epoch did not finish)."

    def _log(self, message: str) -> None:
        if self.job.progress is not None and self.job.ctx.is_main:
            self.job.progress.log(message)

    # ----------------------------------------------------------------- phases
    def _start_swa(self, fresh: bool = True) -> None:
        """Switch to the SWA phase: Adam without weight decay at the restart rate (B7)."""
        self.state["phase"] = "swa"
        self.optimizer = build_optimizer(
            self.model.parameters(),
            {**self.cfg["optimizer"], "name": "adam", "lookahead": False, "weight_decay": 0.0},
        )
        self.average = new_average(self.model)
        if fresh:
            self._log(f"fold {self.job.fold}: SWA with {self.swa.cycles} restarts at lr {self.swa.lr:g}")

    def _progress_fraction(self, step: int, elapsed: float) -> float:
        by_steps = step / max(self.main_epochs * self.steps_per_epoch, 1)
        budget = self.job.time_budget_s
        return max(by_steps, elapsed / budget) if budget else by_steps

    def _set_lr(self, epoch: int, it: int, elapsed: float) -> float:
        if self.state["phase"] == "swa":
            lr = self.swa.lr_at(epoch - self.main_epochs, it / self.steps_per_epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            return lr
        return self.schedule.apply(
            self.optimizer, self._progress_fraction(self.state["step"], elapsed), self.state["step"]
        )

    # ----------------------------------------------------------------- one epoch
    def _batches(self, epoch: int) -> Prefetcher:
        seed, fold = self.opts.training_seed, self.job.fold
        rng = np.random.default_rng(ckpt.stream_seed(seed, fold, epoch, 0))
        aug_gen = torch.Generator().manual_seed(ckpt.stream_seed(seed, fold, epoch, 1))
        batch = self.opts.patch.batch_size
        augmenter = self.job.augmenter

        def produce(_: int) -> tuple[torch.Tensor, torch.Tensor]:
            images, labels = self.sampler.batch(rng, batch)
            x, y = torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))
            if augmenter is not None:
                x, y = augmenter(x, y, aug_gen)
            return x.contiguous(), y.contiguous()

        return Prefetcher(produce, self.steps_per_epoch, depth=self.opts.training.prefetch)

    def _train_epoch(self, epoch: int, started: float, elapsed0: float) -> tuple[float, bool]:
        """Run one epoch; returns (mean loss, stop-now flag from the time budget)."""
        job = self.job
        self.ddp.train()
        torch.manual_seed(ckpt.stream_seed(self.opts.training_seed, job.fold, epoch, 2))  # dropout
        mix_gen = torch.Generator(device=self.device).manual_seed(
            ckpt.stream_seed(self.opts.training_seed, job.fold, epoch, 3)
        )
        alpha, clip = self.opts.mixup.alpha, self.opts.training.grad_clip
        losses: list[float] = []
        budget_hit = False
        stream = self._batches(epoch)
        t_step = time.perf_counter()
        for it, (x, y) in enumerate(stream):
            elapsed = elapsed0 + time.perf_counter() - started
            lr = self._set_lr(epoch, it, elapsed)
            x = shard(x, job.ctx).to(self.device, non_blocking=True)
            target = self.output.encode(shard(y, job.ctx).to(self.device, non_blocking=True))
            if self.opts.training.channels_last:
                x = x.contiguous(memory_format=_channels_last(self.opts.patch.mode))
            if alpha > 0:
                from MedSegTrain.augment import mixup

                x, target, _ = mixup(
                    x,
                    target,
                    alpha,
                    generator=mix_gen,
                    per_sample=self.opts.mixup.per_sample,
                    num_classes=self.output.n_channels,
                )
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                out = self.ddp(x)
                out = [o.float() for o in out] if isinstance(out, (list, tuple)) else out.float()
                loss = self.loss_fn(out, target)
            if not torch.isfinite(loss.detach()):
                raise MedSegError(
                    f"fold {job.fold}: the training loss became {float(loss.detach()):g} at epoch "
                    f"{epoch + 1}, iteration {it}; training stopped. {self._last_good()} Lower "
                    "optimizer.lr or set training.grad_clip, then run again"
                )
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if clip:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(clip))
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.state["step"] += 1
            losses.append(float(loss.detach()))
            now = time.perf_counter()
            self.state["busy"] += now - t_step
            t_step = now
            if job.progress is not None and job.ctx.is_main:
                job.progress.advance(
                    1, message=f"epoch {epoch + 1}/{self.total_epochs}", loss=losses[-1], lr=lr
                )
            if job.time_budget_s is not None:
                spent = elapsed0 + time.perf_counter() - started
                # stop early enough for the final validation to end inside the budget
                budget_hit = broadcast_flag(spent + self.state["val_seconds"] >= job.time_budget_s, job.ctx)
                if budget_hit:
                    stream.close()
                    break
        self.state["wait"] += stream.wait_seconds
        self._epoch_wait = stream.wait_seconds
        return float(np.mean(losses)) if losses else float("nan"), budget_hit

    # ----------------------------------------------------------------- validation
    def _validate(self, model: torch.nn.Module) -> dict[str, Any]:
        job = self.job
        if not job.val_cases:
            return {}
        val = self.opts.validation
        cases = list(job.val_cases)[: val.max_cases] if val.max_cases else list(job.val_cases)
        metrics = validate(
            model,
            cases,
            self.output,
            list(self.opts.patch.size),
            self.opts.patch.mode,
            self.device,
            job.ctx,
            self.val_loss_fn,
            val.overlap,
            val.batch_size,
            self.amp_dtype,
        )
        return metrics

    def _score(self, metrics: Mapping[str, Any]) -> float:
        if self.opts.training.best_metric == "loss":
            return -float(metrics["loss"])
        return float(metrics["dice"])

    # ----------------------------------------------------------------- the run
    def run(self) -> FoldResult:
        job = self.job
        if job.resume:
            self._restore()
        started = time.perf_counter()
        elapsed0 = float(self.state["elapsed"])
        val_every = self.opts.training.val_every
        patience = self.opts.training.early_stopping
        if job.progress is not None and job.ctx.is_main and not self.state["finished"]:
            job.progress.task(
                f"train fold {job.fold}", (self.total_epochs - self.state["epoch"]) * self.steps_per_epoch
            )
        epochs_this_process = 0
        while not self.state["finished"] and self.state["epoch"] < self.total_epochs:
            epoch = int(self.state["epoch"])
            if self.swa is not None and epoch == self.main_epochs and self.state["phase"] == "main":
                self._start_swa()
            t0 = time.perf_counter()
            train_loss, budget_hit = self._train_epoch(epoch, started, elapsed0)
            row: dict[str, Any] = {
                "epoch": epoch + 1,
                "phase": self.state["phase"],
                "train_loss": train_loss,
                "lr": self.optimizer.param_groups[0]["lr"],
                "seconds": round(time.perf_counter() - t0, 3),
                "data_wait_seconds": round(self._epoch_wait, 4),
            }
            last_epoch = epoch + 1 == self.total_epochs
            if self.state["phase"] == "swa":
                if self.swa.is_snapshot(epoch - self.main_epochs):
                    self.average.update_parameters(self.model)
                    if job.on_snapshot is not None:
                        job.on_snapshot(ckpt.cpu_state_dict(self.model))
            elif (epoch + 1) % val_every == 0 or budget_hit or epoch + 1 == self.main_epochs:
                t_val = time.perf_counter()
                metrics = self._validate(self.ddp.module if job.ctx.active else self.model)
                self.state["val_seconds"] = time.perf_counter() - t_val
                if metrics:
                    row["val"] = {k: v for k, v in metrics.items() if k != "n_cases"}
                    score = self._score(metrics)
                    if score > self.state["best_score"]:
                        self.state.update(best_score=score, best_epoch=epoch + 1, bad_validations=0)
                        self.best_weights = ckpt.cpu_state_dict(self.model)
                        if job.ctx.is_main:
                            ckpt.save_checkpoint(
                                self.ckpt_dir / ckpt.BEST, {"model": self.best_weights, "epoch": epoch + 1}
                            )
                    else:
                        self.state["bad_validations"] += 1
            self.state["history"].append(row)
            self.tb.add(row)
            self.state["epoch"] = epoch + 1
            self.state["elapsed"] = elapsed0 + time.perf_counter() - started
            if budget_hit:
                self.state.update(finished=True, stop_reason="time budget")
            elif patience and self.state["phase"] == "main" and self.state["bad_validations"] >= patience:
                self.state.update(finished=True, stop_reason="early stopping")
            elif last_epoch:
                self.state.update(finished=True, stop_reason="epochs done")
            self._save(plot="val" in row or self.state["finished"])
            epochs_this_process += 1
            if (
                job.stop_after_epochs is not None
                and epochs_this_process >= job.stop_after_epochs
                and not self.state["finished"]
            ):
                self.state["stop_reason"] = "paused"
                break
        self.tb.close()
        if job.progress is not None and job.ctx.is_main:
            job.progress.close()
        return self._result()

    def _result(self) -> FoldResult:
        job = self.job
        weights, metrics = ckpt.cpu_state_dict(self.model), {}
        if self.average is not None and int(self.average.n_averaged) > 0:
            finish_average(self.average, self._bn_batches(), self.device)
            weights = ckpt.cpu_state_dict(self.average.module)
            self.model.load_state_dict(weights)
            metrics = self._validate(self.model)
        elif self.opts.training.restore_best and self.best_weights is not None:
            weights = self.best_weights
            last_val = [
                r["val"]
                for r in self.state["history"]
                if "val" in r and r["epoch"] == self.state["best_epoch"]
            ]
            metrics = dict(last_val[0]) if last_val else {}
        else:
            metrics = self._validate(self.model)
        metrics = {k: v for k, v in metrics.items() if k != "n_cases"}
        metrics["best_epoch"] = int(self.state["best_epoch"])
        busy = float(self.state["busy"]) or 1.0
        return FoldResult(
            job.fold,
            weights,
            metrics,
            list(self.state["history"]),
            self.state["stop_reason"],
            int(self.state["epoch"]),
            float(self.state["wait"]) / busy,
            float(self.state["elapsed"]),
        )

    def _bn_batches(self) -> list[torch.Tensor]:
        rng = np.random.default_rng(ckpt.stream_seed(self.opts.training_seed, self.job.fold, 10**6 + 1))
        return [
            torch.from_numpy(self.sampler.batch(rng, self.opts.patch.batch_size)[0])
            for _ in range(min(self.steps_per_epoch, 50))
        ]


def _channels_last(mode: str) -> torch.memory_format:
    return torch.channels_last if mode == "2d" else torch.channels_last_3d


def _load_matching(model: torch.nn.Module, weights: Mapping[str, torch.Tensor]) -> None:
    """Copy every tensor whose name and shape match (a new head for other labels stays fresh)."""
    own = model.state_dict()
    usable = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise MedSegError(
            "transfer.init_bundle: none of its weights fit this network (different architecture?)"
        )
    model.load_state_dict(usable, strict=False)
