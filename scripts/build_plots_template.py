"""Write the offline HTML template of `dvc plots show/diff` from the vendored Vega scripts.

dvc_render fills an HTML template by plain string replacement of three placeholders: the plot
divs (required), the library scripts and a refresh tag. Its default page puts three CDN
<script src> tags in the scripts placeholder; this template leaves that placeholder out and
inlines vendor/vega/{vega,vega-lite,vega-embed}.min.js instead, so a page needs no network and
no file beside it. `.dvc/config` points `plots.html_template` at the output (see README).

Standard library only, so `make` can run it before the venv exists:

    python3 scripts/build_plots_template.py [--vendor vendor/vega] [--out .dvc/plots/offline.html]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# load order matters: vega-lite needs the global `vega`, vega-embed needs both
PACKAGES = ("vega", "vega-lite", "vega-embed")
# dvc_render replaces each of these wherever it occurs, scripts included
PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")
# a map the page cannot load; only devtools would ask for it
SOURCE_MAP = re.compile(r"\n?//# sourceMappingURL=\S+\s*$")

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC Plot</title>
    <!-- offline: {versions} inlined from vendor/vega by scripts/build_plots_template.py -->
{inline}
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def inline_script(name: str, js: str) -> str:
    low = js.lower()
    for bad in ("</script", "<!--"):
        if bad in low:
            raise SystemExit(f"{name}: contains {bad!r}; it cannot be inlined in a <script> element")
    for ph in PLACEHOLDERS:
        if ph in js:
            raise SystemExit(f"{name}: contains the dvc_render placeholder {ph}")
    js = SOURCE_MAP.sub("", js)
    return f"    <script>/* {name} */\n{js}\n    </script>"


def build(vendor: Path) -> str:
    """The template text; each script is checked against vendor/vega/manifest.json first."""
    manifest = {row["package"]: row for row in json.loads((vendor / "manifest.json").read_text())}
    parts, versions = [], []
    for pkg in PACKAGES:
        row = manifest[pkg]
        raw = (vendor / row["file"]).read_bytes()
        if hashlib.sha256(raw).hexdigest() != row["sha256"]:
            raise SystemExit(f"{vendor / row['file']}: sha256 differs from manifest.json ({pkg} {row['version']})")
        versions.append(f"{pkg} {row['version']}")
        parts.append(inline_script(row["file"], raw.decode("utf-8")))
    # str.replace, not str.format: the CSS braces stay as they are
    page = PAGE.replace("{versions}", ", ".join(versions)).replace("{inline}", "\n".join(parts))
    if "{plot_divs}" not in page:
        raise SystemExit("template lost its {plot_divs} placeholder")
    return page


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vendor", type=Path, default=ROOT / "vendor" / "vega")
    ap.add_argument("--out", type=Path, default=ROOT / ".dvc" / "plots" / "offline.html")
    args = ap.parse_args(argv)
    page = build(args.vendor)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(args.out)
    sys.stderr.write(f"{args.out}: {len(page.encode()):,} bytes\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
