#!/usr/bin/env bash
# Screenshot a `dvc plots show` page with headless Chromium and no network, to check that the
# page draws its charts offline (the scripts inlined by .dvc/plots/offline.html, no CDN).
#
#   scripts/plots_screenshot.sh PAGE [OUT.png]      e.g. dvc_plots/steps/index.html /tmp/steps.png
#
# OUT defaults to /tmp/<page's directory name>.png. Environment: CHROMIUM (default `chromium`;
# Debian: apt-get install chromium), WINDOW (default 1400,2000: width,height in pixels; the
# screenshot is the top of the page at that size), BUDGET_MS (virtual time for the scripts to
# run, default 10000).
#
# No network: the browser runs inside `unshare -n` (a network namespace with no interface up)
# when the kernel allows it, and in any case every host name resolves to nothing and every
# request goes to a dead proxy, so anything the page tries to fetch fails.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    sed -n '2,8p' "$0" >&2
    exit 2
fi
page=$1
[ -f "$page" ] || { echo "$page: no such file" >&2; exit 2; }
out=${2:-/tmp/$(basename "$(cd "$(dirname "$page")" && pwd)").png}
chromium=${CHROMIUM:-chromium}
command -v "$chromium" >/dev/null || { echo "$chromium not found (apt-get install -y chromium)" >&2; exit 2; }

url="file://$(cd "$(dirname "$page")" && pwd)/$(basename "$page")"
profile=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT

isolate=()
if unshare -n true 2>/dev/null; then
    isolate=(unshare -n)
fi

mkdir -p "$(dirname "$out")"
rm -f "$out"
"${isolate[@]}" "$chromium" --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --disable-sync \
    --no-first-run --no-default-browser-check \
    --host-resolver-rules="MAP * ~NOTFOUND" --proxy-server="http://127.0.0.1:9" \
    --user-data-dir="$profile" --window-size="${WINDOW:-1400,2000}" \
    --virtual-time-budget="${BUDGET_MS:-10000}" --screenshot="$out" "$url" >"$log" 2>&1 || {
    cat "$log" >&2
    exit 1
}
[ -s "$out" ] || { cat "$log" >&2; echo "no screenshot written" >&2; exit 1; }
echo "$out (${isolate[*]:-no unshare}; $url)"
