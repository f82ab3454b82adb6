"""Collect a gpu-check.sh run into one markdown record: device, date, versions, every step."""

from __future__ import annotations

import datetime
import platform
import sys
from pathlib import Path

import torch


def main(out: Path, device: str) -> str:
    on_gpu = device == "cuda" and torch.cuda.is_available()
    name = torch.cuda.get_device_name(0) if on_gpu else platform.processor() or "cpu"
    lines = [
        f"# matcalc GPU check: {name}",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- torch: {torch.__version__} (CUDA {torch.version.cuda})",
        f"- python: {platform.python_version()}",
        f"- device: {device}",
        "",
        "## Steps",
        "",
        "```text",
        (out / "steps.txt").read_text().rstrip() if (out / "steps.txt").exists() else "(no steps recorded)",
        "```",
    ]
    for step, title in (("tests", "CUDA tests"), ("large", "Probe oracle at large n"),
                        ("report", "matcalc report"), ("bench", "Benchmark")):
        path = out / f"{step}.txt"
        if path.exists():
            text = path.read_text().rstrip()
            if step == "tests":
                text = "\n".join(text.splitlines()[-15:])
            body = f"```text\n{text}\n```" if step == "tests" else text
            lines += ["", f"## {title}", "", body]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "cuda"))
