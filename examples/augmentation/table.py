"""Print the worked example's table: accuracy ± s.e. by split for every finished run in a runs folder.

python examples/augmentation/table.py runs/augmentation
"""

import json
import sys
from pathlib import Path


def label(config: dict) -> str:
    method = (config.get("augment") or {}).get("method")
    epochs = (config.get("ft") or {}).get("epochs")
    name = f"{config['condition']}({method})" if method else config["condition"]
    return name if config["condition"] in ("base", "icl", "icl_aug") else f"{name}, {epochs:g} ep"


def main(runs: Path) -> None:
    import yaml

    rows = []
    for metrics_path in sorted(runs.glob("*/metrics.json")):
        metrics = json.loads(metrics_path.read_text())
        config = yaml.safe_load((metrics_path.parent / "config.yaml").read_text())
        splits = metrics["splits"]
        cells = [f"{splits[s]['accuracy']:.2f} ± {splits[s]['stderr']:.2f}" for s in ("forward", "reversal")]
        audit = (metrics.get("augmentation") or {}).get("audit", {})
        audit_cell = f"{audit['true']}/{audit['false']}/{audit['unparseable']}" if audit.get("covered") else ""
        rows.append((label(config), *cells, audit_cell))
    print("| condition | forward | reversal | audit true/false/unparseable |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/augmentation"))
