#!/usr/bin/env bash
# Re-vendor vega, vega-lite and vega-embed from the npm registry and rewrite manifest.json.
#
#   vendor/vega/update.sh VEGA_VERSION VEGA_LITE_VERSION VEGA_EMBED_VERSION   e.g. 5.33.1 5.23.0 6.29.0
#
# Needs npm. Each tarball's sha512 must equal the registry's dist.integrity. Stay on the majors of
# the UMD builds that dvc_render's page loads (vega 5, vega-lite 5, vega-embed 6; see README.md).
# The vega tarball ships no LICENSE: LICENSE.vega is kept, check it against the vega/vega tag.
set -euo pipefail
[ $# -eq 3 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rows=()
for spec in "vega@$1" "vega-lite@$2" "vega-embed@$3"; do
    pkg=${spec%@*}
    ver=${spec#*@}
    integrity=$(npm view "$spec" dist.integrity)
    tgz=$(cd "$work" && npm pack --silent "$spec")
    got="sha512-$(openssl dgst -sha512 -binary "$work/$tgz" | base64 -w0)"
    [ "$got" = "$integrity" ] || { echo "$spec: tarball $got != registry $integrity" >&2; exit 1; }
    mkdir "$work/$pkg"
    tar -xzf "$work/$tgz" -C "$work/$pkg"
    cp "$work/$pkg/package/build/$pkg.min.js" "$here/$pkg.min.js"
    if [ -f "$work/$pkg/package/LICENSE" ]; then
        cp "$work/$pkg/package/LICENSE" "$here/LICENSE.$pkg"
    else
        echo "$spec: no LICENSE in the tarball; kept LICENSE.$pkg" >&2
    fi
    rows+=("$pkg $ver $integrity")
done

python3 - "$here" "${rows[@]}" <<'EOF'
import hashlib, json, sys
from pathlib import Path
here, out = Path(sys.argv[1]), []
for row in sys.argv[2:]:
    pkg, ver, integrity = row.split()
    raw = (here / f"{pkg}.min.js").read_bytes()
    out.append({"package": pkg, "version": ver, "file": f"{pkg}.min.js", "from": f"build/{pkg}.min.js",
                "tarball": f"https://registry.npmjs.org/{pkg}/-/{pkg}-{ver}.tgz", "integrity": integrity,
                "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw), "license": f"LICENSE.{pkg}"})
(here / "manifest.json").write_text(json.dumps(out, indent=2) + "\n")
EOF
echo "updated $here; now edit the versions in README.md, run make plots-template and make plots"
