"""What the results-contract redesign (issue 27) costs the main job: the built-in ramp demo (16 runs,
`mpirun -np 2`) at the commit before it and in this tree, in ABBA order, median of `repeats` (bench/abba.py)."""
from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

import abba

BEFORE = "2d69036"  # main before issue 27: protocols as Protocol(...) records, compare reading them by name


def main(repeats: int = 4) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        walls, said = abba.walls(BEFORE, Path(tmp), repeats)
    after, before = statistics.median(walls["after"]), statistics.median(walls["before"])
    result = {"before": BEFORE, "walls": walls, "before_wall_s": before, "after_wall_s": after,
              "ratio": round(after / before, 3), "same_headline": said["before"] == said["after"],
              "headline": said["after"]}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
