"""The offline `dvc plots` template (scripts/build_plots_template.py, vendor/vega): the page that
dvc_render fills from it carries the vendored scripts inline and loads nothing from a CDN."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "vendor" / "vega"


def _builder():
    spec = importlib.util.spec_from_file_location("build_plots_template", ROOT / "scripts" / "build_plots_template.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vendored_files_match_manifest_and_stay_small():
    rows = json.loads((VENDOR / "manifest.json").read_text())
    assert [r["package"] for r in rows] == ["vega", "vega-lite", "vega-embed"]
    for row in rows:
        assert (VENDOR / row["file"]).stat().st_size == row["bytes"] < 1_000_000
        assert (VENDOR / row["license"]).read_text().startswith("Copyright")


def test_template_inlines_scripts_and_keeps_dvc_placeholders():
    page = _builder().build(VENDOR)
    assert "{plot_divs}" in page and "{refresh_tag}" in page
    assert "{scripts}" not in page  # the placeholder dvc_render fills with CDN <script src> tags
    assert "<script src" not in page and "sourceMappingURL" not in page
    for name in ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js"):
        assert (VENDOR / name).read_text(encoding="utf-8").strip()[:2000] in page


def test_build_refuses_a_file_that_differs_from_the_manifest(tmp_path):
    for f in VENDOR.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "vega-embed.min.js").write_text("/* edited */")
    with pytest.raises(SystemExit, match="sha256"):
        _builder().build(tmp_path)


def test_dvc_render_fills_the_template_without_cdn(tmp_path):
    from dvc_render import VegaRenderer, render_html

    template = tmp_path / "offline.html"
    template.write_text(_builder().build(VENDOR), encoding="utf-8")
    renderer = VegaRenderer([{"step": 0, "loss": 1.0, "rev": "workspace"}], "loss.tsv", x="step", y="loss")
    out = render_html([renderer], tmp_path / "page" / "index.html", html_template=template)
    page = Path(out).read_text(encoding="utf-8")
    assert "vegaEmbed('#loss_tsv'" in page
    assert "cdn.jsdelivr.net" not in page and "<script src" not in page


def test_dvc_config_names_the_generated_template():
    from dvc.config import Config

    rel = Config(dvc_dir=str(ROOT / ".dvc")).load_one("repo")["plots"]["html_template"]
    # dvc's CmdPlots joins a relative plots.html_template to the .dvc directory
    assert Path(os.path.join(ROOT / ".dvc", rel)) == ROOT / ".dvc" / "plots" / "offline.html"
    assert "PLOTS_TEMPLATE := .dvc/plots/offline.html" in (ROOT / "Makefile").read_text()
