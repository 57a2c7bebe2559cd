"""Few-step distillation of a jamflow package: guided progressive distillation on the rectified flow.

Method (named): progressive distillation (Salimans & Ho 2022) with classifier-free guidance distilled into the
student in the first stage (Meng et al. 2023, "On Distillation of Guided Diffusion Models"), written for the
rectified-flow velocity parametrization of DESIGN §1. Stage k halves the number of Euler steps on a uniform grid:

    teacher (stage 0: the trained model at N0 = --teacher-steps steps with CFG --cfg, v = v_c + cfg (v_c - v_u);
             later stages: the previous student, single pass)
    x_t = (1 - t) x0 + t x1 with t on the student's grid (step 2h), x0 ~ N(0, I), x1 from the corpus
    target: two teacher Euler steps of size h:  x' = x_t + h v_T(x_t, t),  x'' = x' + h v_T(x', t + h)
    student velocity target  (x'' - x_t) / 2h,  MSE on the unknown region of each stream (same inpainting tasks
    as scripts/train.py; the sampler writes known regions back only at the end, so neither does this)

N0 -> N0/2 -> ... -> --student-steps. The student package declares `sampler.guidance_baked = true`,
`schedule = list` (its uniform grid) and `steps`, so `jamflow sample` runs it with one pass per step. It keeps the
teacher's model.json otherwise, `motion.normalization` included: the corpus motion is normalized with it (as
scripts/train.py does) before it is used as x1.

    .venv/bin/python scripts/distill.py --corpus target/corpus --teacher engines/jamflow-small \\
        --out target/distill --teacher-steps 32 --student-steps 4 --iters-per-stage 2000 --threads 2

Cheaper runs on a CPU-only machine: fewer teacher steps (the stage count is log2(N0 / student steps), each stage
costs --iters-per-stage x (2 teacher passes, x2 with CFG in stage 0, + 1 student pass with backward)), and the live
audio -> motion path only:

    nice -n 19 .venv/bin/python scripts/distill.py --corpus target/corpus --teacher target/train/package \\
        --out target/distill-live --teacher-steps 8 --student-steps 4 --iters-per-stage 300 --batch 4 \\
        --task-weights 0 1 0 0 --crop-s 2 --threads 2

--task-weights (TTS A2M M2A BOTH, as scripts/train.py) picks the inpainting tasks; --crop-s trains on random
windows of that many seconds (cut on the 0.16 s grid where mel and motion frames coincide) with the text dropped,
as the live path sees them (sensible with --task-weights 0 1 0 0 only: a window's text is unknown).

Self-consistency (--consistency W --anchor PACKAGE, with --crop-s and --augment or --formant-warp): the student runs
its own --student-steps sampler, with gradients, on each window as heard (drawn room, noise, level, vocal tract), and
the frozen anchor (e.g. the student being fine-tuned) runs the same sampler on the same window as the corpus recorded
it, from the same mel noise; W x the mean squared difference of their motion on the unknown frames joins the loss.
The student learns to answer a degraded window as the anchor answers the clean one. --distill-weight 0 drops the
progressive-distillation loss and runs no teacher (one stage: --teacher-steps 2 x --student-steps). Tried on the
noise gap of issue 11: engines/jamflow-small-student/MODEL_CARD.md.

    nice -n 10 .venv/bin/python scripts/distill.py --corpus target/corpus2 target/joe --teacher engines/jamflow-small \
        --out target/consistency --teacher-steps 4 --student-steps 2 --iters-per-stage 3000 --batch 4 \
        --task-weights 0 1 0 0 --crop-s 2 --threads 2 --lr 5e-5 --f16 --init-student engines/jamflow-small-student \
        --augment 0.5 --live 0.6 0.64 0 --live-context 0.32 --formant-warp 0.5 \
        --consistency 1 --distill-weight 0 --anchor engines/jamflow-small-student

Resumable (--resume continues OUT/distill.pt: stage, step, student, optimizer). On the real JAM-Flow checkpoint
(F5 base width, 22 layers) with a GPU: the 32 -> 4 command with --device cuda --batch 32; expected about 3 stages x 5k
iterations x 3 teacher passes: roughly 4-8 GPU hours on one A100/H100 (an estimate from the NFE cost, not measured
here).
"""

from __future__ import annotations

import argparse
import copy
import random
import signal
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jamflow_ref as ref  # noqa: E402
from train import Corpus, make_batch, write_package  # noqa: E402


def velocity(model, inputs: dict, x_mel, x_mot, t, cfg_strength: float):
    """Model velocity at (x, t); with cfg_strength > 0 the packed guided velocity."""
    if cfg_strength == 0:
        out = model(dict(inputs, noisy_mel=x_mel, noisy_motion=x_mot, time=t))
        return out["mel_velocity"], out["motion_velocity"]
    b = x_mel.shape[0]
    both = {k: torch.cat([v, v]) for k, v in inputs.items()}
    both["uncond"] = torch.cat([inputs["uncond"], torch.ones(b, dtype=torch.bool, device=x_mel.device)])
    out = model(dict(both, noisy_mel=torch.cat([x_mel, x_mel]), noisy_motion=torch.cat([x_mot, x_mot]),
                     time=torch.cat([t, t])))
    vm, vo = out["mel_velocity"], out["motion_velocity"]
    return (vm[:b] + (vm[:b] - vm[b:]) * cfg_strength, vo[:b] + (vo[:b] - vo[b:]) * cfg_strength)


def know_history(inputs: dict, tg: dict, h: int) -> None:
    """A live-shaped window: its first h motion frames known (the live path's history), the rest generated."""
    loss = tg["motion_loss"]  # [B, F]
    loss[:, :h] = False
    loss[:, h:] = inputs["motion_mask"][:, h:]
    known = inputs["motion_mask"] & ~loss  # [B, F]
    inputs["motion_known"] = known
    inputs["cond_motion"] = torch.where(known[..., None], tg["motion"], 0.0)  # [B, F, motion dims]


def live_view(inputs: dict, tg: dict, w: int, h: int, future: int, gen: random.Random) -> tuple[dict, dict, list]:
    """Privileged future context (--live-context): cut a live-shaped window [history h | generated w - h] out of
    each row's crop, ending at least `future` motion frames before the row's end where the row allows. The teacher
    keeps the crop: it hears the audio after the window, as the live path never does, and knows the motion up to
    the end of the window's history. Returns the student's inputs and targets and each row's (motion, mel) start.
    """
    b, f_max = tg["motion"].shape[:2]
    lengths = inputs["motion_mask"].sum(1).tolist()  # [B] valid motion frames per row
    starts = []
    for r in range(b):
        j = 4 * gen.randint(0, max(0, (int(lengths[r]) - w - future) // 4))  # on the 0.16 s grid
        starts.append((j, j * 15 // 4))
        known = torch.zeros(f_max, dtype=torch.bool)
        known[: j + h] = True
        tg["motion_loss"][r] = inputs["motion_mask"][r] & ~known
    inputs["motion_known"] = inputs["motion_mask"] & ~tg["motion_loss"]  # [B, F]
    inputs["cond_motion"] = torch.where(inputs["motion_known"][..., None], tg["motion"], 0.0)  # [B, F, K]
    wm = w * 15 // 4
    s_inputs = {k: v for k, v in inputs.items() if k in ("text", "uncond")}
    for key, length, mel_axis in (("cond_mel", wm, True), ("mel_mask", wm, True), ("motion_mask", w, False)):
        s_inputs[key] = rows_window(inputs[key], starts, length, mel_axis)
    s_tg = {key: rows_window(tg[key], starts, wm, True) for key in ("mel", "mel_loss")}
    s_tg["motion"] = rows_window(tg["motion"], starts, w, False)  # [B, w, K]
    s_tg["motion_loss"] = torch.zeros_like(s_inputs["motion_mask"])  # [B, w], set by know_history
    know_history(s_inputs, s_tg, h)
    return s_inputs, s_tg, starts


def rows_window(x: torch.Tensor, starts: list, length: int, mel_axis: bool) -> torch.Tensor:
    """Row r of x [B, T, ...] from its start (the mel or motion one of `starts`), `length` frames, zero-padded."""
    out = torch.zeros((x.shape[0], length) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
    for r, (j, jm) in enumerate(starts):
        a = jm if mel_axis else j
        piece = x[r, a : a + length]
        out[r, : piece.shape[0]] = piece
    return out


def window_frames(seconds: float, fps: float) -> int:
    """Motion frames of a window of about `seconds`: a multiple of 4 (mel frames 15 w / 4, both on the 0.16 s grid)."""
    return max(4, 4 * round(seconds * fps / 4))


def self_consistency(student, anchor, inputs: dict, a_inputs: dict, unknown: torch.Tensor, steps: int,
                     tgen: torch.Generator) -> torch.Tensor:
    """--consistency: the student's own `steps`-step Euler sampler run with gradients on the rows as heard (`inputs`)
    and the frozen anchor's on the same rows as recorded (`a_inputs`), both from one draw of mel noise and zero
    motion noise (a guidance-baked package's noise_scale 0); the mean squared difference of their motion [B, F, K]
    over the `unknown` frames [B, F]. The student learns to answer a degraded window as the anchor answers the clean
    one, without a teacher's targets."""
    b, dev = unknown.shape[0], unknown.device
    noise = torch.randn(inputs["cond_mel"].shape, generator=tgen).to(dev)  # [B, T_mel, n_mels]
    grid = [i / steps for i in range(steps + 1)]

    def run(model, rows: dict) -> torch.Tensor:
        xm, xo = noise.clone(), torch.zeros_like(rows["cond_motion"])  # [B, T_mel, n_mels], [B, F, K]
        for a, c in zip(grid[:-1], grid[1:]):
            out = model(dict(rows, noisy_mel=xm, noisy_motion=xo, time=torch.full((b,), a, device=dev)))
            xm, xo = xm + (c - a) * out["mel_velocity"], xo + (c - a) * out["motion_velocity"]
        return xo

    with torch.no_grad():
        target = run(anchor, a_inputs)  # [B, F, K]
    got = run(student, inputs)  # [B, F, K]
    return (((got - target) ** 2).mean(-1) * unknown).sum() / unknown.sum().clamp(min=1)


def padded_rows(pieces: list, like: torch.Tensor) -> torch.Tensor:
    """Each row's piece [T_r, ...] at the start of a zero tensor shaped as `like` [B, T, ...]."""
    out = torch.zeros_like(like)
    for r, m in enumerate(pieces):
        out[r, : m.shape[0]] = m
    return out


class Windows:
    """The rows of one batch as random --crop-s windows (mel start 15 k, motion start 4 k: both at 0.16 k s);
    text dropped. Same attributes as train.Corpus for make_batch (rows 0..len-1)."""

    def __init__(self, data: Corpus, idx: list[int], crop_s: float, fps: float, gen: random.Random,
                 p_augment: float = 0.0, p_warp: float = 0.0):
        w = window_frames(crop_s, fps)
        wm = w * 15 // 4
        self.mel, self.motion, self.text = [], [], []
        self.clean = []  # the same windows as recorded in the corpus (`mel` may be heard through drawn conditions)
        self.unwarped = []  # the same windows through the same conditions, without the vocal-tract warp
        for i in idx:
            (mel, unwarped), mot, clean = data.heard_mels(i, gen, p_augment, p_warp), data.motion[i], data.mel[i]
            k_max = min((mot.shape[0] - w) // 4, (mel.shape[0] - wm) // 15)
            if k_max < 0:
                self.mel.append(mel)
                self.clean.append(clean.float())
                self.unwarped.append(unwarped)
                self.motion.append(mot)
            else:
                k = gen.randint(0, k_max)
                self.mel.append(mel[15 * k : 15 * k + wm])
                self.clean.append(clean[15 * k : 15 * k + wm].float())  # only the window converted
                self.unwarped.append(unwarped[15 * k : 15 * k + wm])
                self.motion.append(mot[4 * k : 4 * k + w])
            self.text.append(torch.zeros(1, dtype=torch.long))  # never used: p_drop_text 1 leaves it padding


def parse_args() -> tuple[argparse.Namespace, list[int]]:
    """The command line, checked; and the stages' step counts (--teacher-steps halved to --student-steps)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, nargs="+", required=True,
                    help="corpus directories (`jamflow corpus make`); several are distilled on as one")
    ap.add_argument("--teacher", type=Path, required=True, help="package directory of the trained model")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--teacher-steps", type=int, default=32)
    ap.add_argument("--student-steps", type=int, default=4)
    ap.add_argument("--cfg", type=float, default=2.0)
    ap.add_argument("--iters-per-stage", type=int, default=2000)
    ap.add_argument("--task-weights", type=float, nargs=4, default=[0.3, 0.4, 0.1, 0.2],
                    metavar=("TTS", "A2M", "M2A", "BOTH"), help="inpainting task mix (scripts/train.py); "
                    "0 1 0 0 distills the live audio -> motion path only")
    ap.add_argument("--crop-s", type=float, default=0.0,
                    help="train on random windows of this many seconds, text dropped (0 = whole utterances)")
    ap.add_argument("--live", type=float, nargs=3, default=None, metavar=("SHARE", "WINDOW_S", "HISTORY_S"),
                    help="with --crop-s: a SHARE of batches shaped as jamflowd's live windows instead: WINDOW_S "
                         "seconds (on the 0.16 s grid) whose first HISTORY_S seconds of motion are known, as the live "
                         "path's history is (e.g. 0.5 0.64 0.4 for history 400 / chunk 80 / look-ahead 80 ms)")
    ap.add_argument("--live-context", type=float, default=None, metavar="FUTURE_S",
                    help="with --live: the teacher hears each live window's whole --crop-s crop, at least FUTURE_S "
                         "seconds of it after the window where the utterance allows, and the student only the window "
                         "(privileged future context: the student learns the answer that look-ahead it lacks gives)")
    ap.add_argument("--augment", type=float, default=0.0, metavar="P",
                    help="share of a2m rows heard through freshly drawn room / noise / level (train.py --augment)")
    ap.add_argument("--formant-warp", type=float, default=0.0, metavar="P",
                    help="share of a2m rows whose heard mel is warped by a drawn vocal-tract factor (train.py "
                         "--formant-warp)")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--f16", action="store_true")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--clean-teacher", action="store_true",
                    help="with --crop-s and --augment: the teacher hears each window as the corpus recorded it, "
                         "the student the same window through the drawn recording conditions")
    ap.add_argument("--unwarped-teacher", action="store_true",
                    help="with --crop-s and --formant-warp: the teacher hears each window in its own voice (the same "
                         "drawn recording conditions, no vocal-tract warp), the student warped")
    ap.add_argument("--consistency", type=float, default=0.0, metavar="W",
                    help="with --crop-s, --anchor and --augment or --formant-warp: add W x the self-consistency loss "
                         "(the student's own sampler on each window as heard, pulled to the frozen --anchor's answer "
                         "to the same window as recorded; see the module text)")
    ap.add_argument("--anchor", type=Path, metavar="PACKAGE",
                    help="the frozen package whose answer to the clean window --consistency pulls towards (e.g. the "
                         "student being fine-tuned); same architecture required")
    ap.add_argument("--distill-weight", type=float, default=1.0, metavar="W",
                    help="weight of the progressive-distillation loss; 0 (with --consistency) runs no teacher")
    ap.add_argument("--init-student", type=Path, metavar="PACKAGE",
                    help="start the student from this package's weights (e.g. the previous student, when the teacher "
                         "was fine-tuned) instead of a copy of the teacher; same architecture required")
    args = ap.parse_args()
    n = args.teacher_steps
    stages = []
    while n > args.student_steps:
        stages.append(n // 2)
        n //= 2
    if n != args.student_steps or not stages:
        sys.exit(f"--teacher-steps {args.teacher_steps} must be --student-steps {args.student_steps} "
                 "times 2^k, k >= 1")
    if args.clean_teacher and (args.crop_s <= 0 or args.augment <= 0):
        sys.exit("--clean-teacher needs --crop-s and --augment (the windows it hears clean are the augmented ones)")
    if args.unwarped_teacher and (args.crop_s <= 0 or args.formant_warp <= 0 or args.clean_teacher):
        sys.exit("--unwarped-teacher needs --crop-s and --formant-warp, and not --clean-teacher (whose clean windows "
                 "are already unwarped)")
    if args.consistency < 0 or args.distill_weight < 0 or args.consistency + args.distill_weight <= 0:
        sys.exit("--consistency and --distill-weight: non-negative, not both 0")
    if args.consistency > 0 and (args.crop_s <= 0 or args.anchor is None
                                 or args.augment <= 0 and args.formant_warp <= 0):
        sys.exit("--consistency needs --crop-s, --anchor, and --augment or --formant-warp (the windows it compares "
                 "with the recording are the ones heard differently)")
    if args.distill_weight == 0 and len(stages) > 1:
        sys.exit("--distill-weight 0 halves no steps: one stage, --teacher-steps 2 x --student-steps")
    if args.live is not None and (args.crop_s <= 0 or not 0 <= args.live[0] <= 1
                                  or not 0 <= args.live[2] < args.live[1]):
        sys.exit("--live SHARE WINDOW_S HISTORY_S: needs --crop-s, SHARE in [0, 1] and 0 <= HISTORY_S < WINDOW_S")
    if args.live_context is not None and (args.live is None or args.live_context < 0
                                          or args.live[1] + args.live_context > args.crop_s):
        sys.exit("--live-context FUTURE_S: needs --live, FUTURE_S >= 0 and WINDOW_S + FUTURE_S <= --crop-s")
    if sum(args.task_weights) <= 0 or min(args.task_weights) < 0:
        sys.exit("--task-weights: non-negative, not all zero")
    return args, stages


def main() -> None:
    args, stages = parse_args()
    torch.set_num_threads(args.threads)
    # train.py's task mix, without condition dropping: the student is always conditional (guidance baked in).
    # Windows have no text (p_drop_text 1).
    targs = argparse.Namespace(task_weights=args.task_weights, p_uncond=0.0,
                               p_drop_text=1.0 if args.crop_s > 0 else 0.2, augment=args.augment,
                               formant_warp=args.formant_warp)

    cfg, teacher = ref.load_package(args.teacher)
    vocab = ref.read_vocab(args.teacher, cfg)
    teacher.to(args.device).eval().requires_grad_(False)
    student = copy.deepcopy(teacher).train().requires_grad_(True)
    if args.init_student is not None:
        ref.load_weights(student, args.init_student)
        print(f"student initialized from {args.init_student}", flush=True)
    student.to(args.device)
    anchor = None
    if args.consistency > 0:
        _, anchor = ref.load_package(args.anchor)
        anchor.to(args.device).eval().requires_grad_(False)
        print(f"self-consistency x {args.consistency:g} against {args.anchor} hearing the recording; distillation "
              f"x {args.distill_weight:g}", flush=True)
    opt = torch.optim.AdamW(student.parameters(), lr=args.lr, weight_decay=0.0)
    stage, it = 0, 0
    gen = random.Random(args.seed)
    tgen = torch.Generator().manual_seed(args.seed)
    ck_path = args.out / "distill.pt"
    args.out.mkdir(parents=True, exist_ok=True)
    if args.resume:
        ck = torch.load(ck_path, weights_only=False, map_location=args.device)
        stage, it = ck["stage"], ck["iter"]
        student.load_state_dict(ck["student"])  # map onto the current device below
        if stage > 0:
            teacher.load_state_dict(ck["teacher"])
        opt.load_state_dict(ck["opt"])
        gen.setstate(ck["py_rng"])
        tgen.set_state(ck["torch_rng"])
    data = Corpus.union(args.corpus, "train", vocab, cfg)
    fps = cfg["motion"]["fps"]
    if args.live is not None:
        print(f"live-shaped windows: {args.live[0]:.0%} of batches, {window_frames(args.live[1], fps)} motion frames, "
              f"the first {round(args.live[2] * fps)} known", flush=True)
        if args.live_context is not None:
            print(f"the teacher hears each live window's {window_frames(args.crop_s, fps)}-frame crop, "
                  f"{window_frames(args.live_context, fps)} frames after it where the utterance allows", flush=True)
    if args.augment > 0:
        data.keep_audio()
    norm = cfg["motion"].get("normalization")
    if norm is not None:  # the network works on (motion - mean) / std, as in scripts/train.py
        mean, std = torch.tensor(norm["mean"]), torch.tensor(norm["std"])
        data.motion = [(m - mean) / std for m in data.motion]
        print(f"motion normalization: std {[round(v, 4) for v in norm['std']]}", flush=True)
    print(f"train: {len(data)} utterances; stages {[2 * s for s in stages[stage:]]} -> {args.student_steps} steps, "
          f"{args.iters_per_stage} iterations each", flush=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))

    def save() -> None:
        torch.save({"stage": stage, "iter": it, "student": student.state_dict(), "teacher": teacher.state_dict(),
                    "opt": opt.state_dict(), "py_rng": gen.getstate(), "torch_rng": tgen.get_state()}, ck_path)

    t_log = time.time()
    while stage < len(stages) and not stop["now"]:
        steps = stages[stage]
        guided = args.cfg if stage == 0 else 0.0
        h = 1.0 / (2 * steps)
        idx = [gen.randrange(len(data)) for _ in range(args.batch)]
        s_view = None  # the student's own window, when it is cut out of the teacher's (--live-context)
        if args.crop_s > 0:
            live = args.live is not None and gen.random() < args.live[0]
            context = live and args.live_context is not None
            win = Windows(data, idx, args.live[1] if live and not context else args.crop_s, fps, gen, args.augment,
                          args.formant_warp)
            inputs, tg = make_batch(win, list(range(len(idx))), gen, targs)
            if context:
                s_view = live_view(inputs, tg, window_frames(args.live[1], fps), round(args.live[2] * fps),
                                   window_frames(args.live_context, fps), gen)
            elif live:
                know_history(inputs, tg, round(args.live[2] * fps))
        else:
            win, (inputs, tg) = None, make_batch(data, idx, gen, targs)
        t_inputs = inputs  # what the teacher hears
        if (args.clean_teacher or args.unwarped_teacher) and win is not None:
            # The teacher answers from the clean recording (or the voice unwarped), the student from the same audio
            # heard through the drawn room / noise / level (or vocal tract): it learns the clean answer from noisy
            # input, not the teacher's noisy-input one.
            clean = padded_rows(win.clean if args.clean_teacher else win.unwarped, tg["mel"])  # [B, T_mel, n_mels]
            known = inputs["mel_mask"] & ~tg["mel_loss"]  # [B, T_mel]
            t_inputs = dict(inputs, cond_mel=torch.where(known[..., None], clean, 0.0))
        b = tg["mel"].shape[0]
        # The same rows as the corpus recorded them: what the anchor hears (--consistency).
        recorded = padded_rows(win.clean, tg["mel"]) if anchor is not None else None  # [B, T_mel, n_mels]
        k = torch.randint(0, steps, (b,), generator=tgen)
        x0m, x0o = torch.randn(tg["mel"].shape, generator=tgen), torch.randn(tg["motion"].shape, generator=tgen)
        dev = args.device
        inputs = {key: v.to(dev) for key, v in inputs.items()}
        t_inputs = {key: v.to(dev) for key, v in t_inputs.items()}
        tg = {key: v.to(dev) for key, v in tg.items()}
        t, x0m, x0o = (k.float() / steps).to(dev), x0m.to(dev), x0o.to(dev)
        tt = t[:, None, None]
        xm, xo = (1 - tt) * x0m + tt * tg["mel"], (1 - tt) * x0o + tt * tg["motion"]
        target_m, target_o = xm, xo  # unused without distillation
        if args.distill_weight > 0:
            with torch.no_grad():
                vm, vo = velocity(teacher, t_inputs, xm, xo, t, guided)
                xm1, xo1 = xm + h * vm, xo + h * vo
                vm, vo = velocity(teacher, t_inputs, xm1, xo1, t + h, guided)
                xm2, xo2 = xm1 + h * vm, xo1 + h * vo
                target_m, target_o = (xm2 - xm) / (2 * h), (xo2 - xo) / (2 * h)
        if s_view is not None:  # the student sees its window of the teacher's x_t and answers for it alone
            inputs, tg, starts = s_view
            inputs = {key: v.to(dev) for key, v in inputs.items()}
            tg = {key: v.to(dev) for key, v in tg.items()}
            wm, w = tg["mel"].shape[1], tg["motion"].shape[1]
            xm, target_m = rows_window(xm, starts, wm, True), rows_window(target_m, starts, wm, True)  # [B, wm, n]
            xo, target_o = rows_window(xo, starts, w, False), rows_window(target_o, starts, w, False)  # [B, w, K]
        km, ko = ~tg["mel_loss"][..., None], ~tg["motion_loss"][..., None]
        lm = lo = lc = torch.zeros((), device=dev)
        if args.distill_weight > 0:
            out = student(dict(inputs, noisy_mel=xm, noisy_motion=xo, time=t))
            lm = (((out["mel_velocity"] - target_m) ** 2).mean(-1) * ~km[..., 0]).sum() / (~km).sum().clamp(min=1)
            lo = (((out["motion_velocity"] - target_o) ** 2).mean(-1) * ~ko[..., 0]).sum() / (~ko).sum().clamp(min=1)
        if anchor is not None:
            if s_view is not None:
                recorded = rows_window(recorded, starts, tg["mel"].shape[1], True)  # [B, wm, n_mels]
            known = (inputs["mel_mask"] & ~tg["mel_loss"])[..., None]  # [B, T_mel, 1]
            a_inputs = dict(inputs, cond_mel=torch.where(known, recorded.to(dev), 0.0))
            lc = self_consistency(student, anchor, inputs, a_inputs, ~ko[..., 0], args.student_steps, tgen)
        loss = args.distill_weight * (lm + lo) + args.consistency * lc
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        it += 1
        if it % args.log_every == 0:
            print(f"stage {stage} ({2 * steps} -> {steps} steps) iter {it}: mel {float(lm.detach()):.4g} "
                  f"motion {float(lo.detach()):.4g}"
                  + (f" consistency {float(lc.detach()):.4g}" if anchor is not None else "")
                  + f" {(time.time() - t_log) / args.log_every:.2f} s/iter", flush=True)
            t_log = time.time()
        if it % 100 == 0:
            save()
        if it >= args.iters_per_stage:
            teacher.load_state_dict(student.state_dict())
            stage, it = stage + 1, 0
            save()
    save()
    if stage >= len(stages):
        s = args.student_steps
        cfg["name"] = f"{cfg.get('name', 'jamflow')}-student{s}"
        cfg["sampler"] = {"steps": s, "schedule": {"kind": "list", "t": [i / s for i in range(s + 1)]},
                          "cfg_strength": 0.0, "guidance_baked": True}
        write_package(args.out / "package", cfg, student.cpu(), vocab, torch.float16 if args.f16 else torch.float32)
        print(f"student ({s} steps, guidance baked) -> {args.out / 'package'}", flush=True)
    else:
        print(f"stopped in stage {stage} at iter {it}; continue with --resume", flush=True)


if __name__ == "__main__":
    main()
