#!/usr/bin/env bash
# Vendors the portal's two browser libraries from the npm registry (no CDN at run time: member
# networks are locked down, so every asset is served from this package).
#   chart.js          -> chart.umd.js (+ LICENSE.chart.js)          dashboard charts
#   libphonenumber-js -> libphonenumber-max.js (+ LICENSE.libphonenumber-js)
#                        E.164 phone normalisation in the browser, full ("max") metadata, the
#                        closest match to the Python `phonenumbers` library the spec names.
# Re-run to upgrade; the versions fetched are written to VERSIONS.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent chart.js@4 >/dev/null
npm pack --silent libphonenumber-js@1 >/dev/null
mkdir chart phone
tar -xzf chart.js-*.tgz -C chart
tar -xzf libphonenumber-js-*.tgz -C phone
cp chart/package/dist/chart.umd.js "$here/chart.umd.js"
cp chart/package/LICENSE.md "$here/LICENSE.chart.js.md"
cp phone/package/bundle/libphonenumber-max.js "$here/libphonenumber-max.js"
cp phone/package/LICENSE "$here/LICENSE.libphonenumber-js"
# Source maps are not shipped: drop the trailing reference so browsers do not request them.
sed -i '/^\/\/# sourceMappingURL=/d' "$here/chart.umd.js" "$here/libphonenumber-max.js"
{
  echo "chart.js $(ls chart.js-*.tgz | sed 's/chart.js-//; s/.tgz//')"
  echo "libphonenumber-js $(ls libphonenumber-js-*.tgz | sed 's/libphonenumber-js-//; s/.tgz//')"
} > "$here/VERSIONS"
echo "vendored: $(tr '\n' ' ' < "$here/VERSIONS")"
