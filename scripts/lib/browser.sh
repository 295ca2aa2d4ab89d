# The browser the report test opens pages in: Debian's chromium, installed when missing. A
# machine where it cannot be installed still runs the suite; the browser test then says it
# skipped and why. Owns installing the browser, not what the test checks.
# Expects steps.sh for `say` and services.sh for `apt_install`.

ensure_browser() {
  local found
  found=$(browser_path)
  if [[ -z $found ]]; then
    apt_install chromium || say "warning: chromium could not be installed; the browser test will skip"
    found=$(browser_path)
  fi
  if [[ -n $found ]]; then
    say "$("$found" --version 2>/dev/null || echo "$found"): ready for the report test"
  fi
}

browser_path() {
  command -v chromium || command -v chromium-browser || command -v google-chrome || true
}
