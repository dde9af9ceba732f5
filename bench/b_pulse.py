"""Computing a service-goal pulse: clusters, labels, score and goal closeness for 2,000 answers (target: under
2 s on this machine), against a floor of what the suggestion box does for one new text: compare it with all the
others (TF-IDF of every text plus rapidfuzz's token-set ratio per pair).
The answers are the suite's hand-written fixture, varied (fillers, dropped letters, numbers), so no two match."""

from __future__ import annotations

import random
import time

from bench.core import Config, Row, median
from handlers.pulse.method import analyse
from handlers.suggestions.similar import local_scores
from tests.handlers.pulse_fixture import ANSWERS

NAME = "pulse"
TITLE = "Service-goal pulse of 2,000 answers (clusters, labels, score) vs one text against all (suggestion box)"
FILLERS = ("", "Ganz klar:", "Ich finde,", "Für mich:", "Honestly,", "Kurz gesagt:", "Unser Ziel:")


def answers(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        _, text = rng.choice(ANSWERS)
        words = text.split()
        if len(words) > 3 and rng.random() < 0.5:
            i = rng.randrange(len(words))
            words[i] = words[i][:-1] if len(words[i]) > 4 else words[i]
        out.append(f"{rng.choice(FILLERS)} {' '.join(words)} ({rng.randint(1, 99)})".strip())
    return out


async def run(cfg: Config) -> list[Row]:
    n = cfg.size(2_000, 2_000) if not cfg.tiny else 200
    texts = answers(n)
    goal = "Das Problem des Kunden beim ersten Kontakt lösen."
    ours, cpu, floor, floor_cpu = [], [], [], []
    for _ in range(max(1, cfg.reps)):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = analyse(texts, goal=goal)
        ours.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        start, start_cpu = time.perf_counter(), time.process_time()
        local_scores(texts[0], texts[1:])
        floor.append(time.perf_counter() - start)
        floor_cpu.append(time.process_time() - start_cpu)
    return [
        Row(
            NAME,
            f"pulse of {n} answers",
            median(ours) * 1000,
            median(floor) * 1000,
            "ms",
            note=(
                f"target under 2,000 ms; CPU time {median(cpu) * 1000:.0f} ms (wall time counts waiting for a busy"
                f" CPU); {len(result.groups)} clusters, score {result.score}"
            ),
            samples={"starling": ours, "floor": floor},
        ),
        Row(
            NAME,
            f"pulse of {n} answers, CPU time",
            median(cpu) * 1000,
            median(floor_cpu) * 1000,
            "ms",
            note="the process's CPU time: what the wall time is on an idle core",
            samples={"starling": cpu, "floor": floor_cpu},
        ),
    ]
