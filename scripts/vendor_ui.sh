#!/usr/bin/env bash
# Re-fetch the web UI's vendored front-end files (mlineage/ui/static/vendor/) from npm at the exact
# versions recorded in mlineage/ui/static/vendor/VENDORED.md. Needs node and npm; users never run it
# (the files are committed and shipped in the wheel), maintainers run it to check or to upgrade.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR="$ROOT/mlineage/ui/static/vendor"
# package@version: keep in step with VENDORED.md.
PACKAGES=(cytoscape@3.35.0 cytoscape-dagre@4.0.1 uplot@1.6.32)
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts --save-exact "${PACKAGES[@]}" >/dev/null
M="$WORK/node_modules"
mkdir -p "$VENDOR"
cp "$M/cytoscape/dist/cytoscape.min.js" "$VENDOR/cytoscape.min.js"
cp "$M/cytoscape/LICENSE" "$VENDOR/cytoscape.LICENSE"
# cytoscape-dagre 4 bundles @dagrejs/dagre (and its graphlib) into its dist file: no separate dagre script.
cp "$M/cytoscape-dagre/dist/cytoscape-dagre.min.js" "$VENDOR/cytoscape-dagre.min.js"
cp "$M/cytoscape-dagre/LICENSE" "$VENDOR/cytoscape-dagre.LICENSE"
cp "$M/uplot/dist/uPlot.iife.min.js" "$VENDOR/uPlot.iife.min.js"
cp "$M/uplot/dist/uPlot.min.css" "$VENDOR/uPlot.min.css"
cp "$M/uplot/LICENSE" "$VENDOR/uPlot.LICENSE"
for package in "${PACKAGES[@]}"; do
  name="${package%@*}"; want="${package##*@}"
  got="$(node -p "require('$M/$name/package.json').version")"
  [ "$got" = "$want" ] || { echo "vendor_ui: $name is $got, wanted $want" >&2; exit 1; }
done
( cd "$VENDOR" && sha256sum cytoscape.min.js cytoscape-dagre.min.js uPlot.iife.min.js uPlot.min.css )
