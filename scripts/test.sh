#!/usr/bin/env bash
# The project's one test command, the same on a developer's machine and in CI: bring up the
# servers the integration tests use, then check formatting, lints and the tests. Every step
# runs even after an earlier one fails, so one run shows all that is wrong; the exit status is
# non-zero if any step failed.
#
#   scripts/test.sh                        # everything, as CI runs it
#   PLIMSOLL_NO_SERVICES=1 scripts/test.sh # leave the servers alone (quick local runs)
#
# The last line is the test tally, "tests: N passed, N failed, N skipped".
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/steps.sh
source scripts/lib/services.sh
source scripts/lib/tests.sh
source scripts/lib/browser.sh
source scripts/lib/kubernetes.sh
source scripts/lib/tools.sh

# Upper bounds per step, well inside CI's 90 minutes in all (a clean build takes 1 to 3).
FMT_LIMIT_S=120
CLIPPY_LIMIT_S=1200

main() {
  find_cargo
  print_versions
  LOG_DIR=$(mktemp -d)
  trap 'rm -rf "$LOG_DIR"' EXIT

  if [[ ${PLIMSOLL_NO_SERVICES:-} == 1 ]]; then
    skip_step services "PLIMSOLL_NO_SERVICES=1"
  else
    ensure_services
  fi
  step browser ensure_browser
  step k8s ensure_kubernetes_validate
  step tools ensure_tools
  step fmt bounded "$FMT_LIMIT_S" cargo fmt --all -- --check
  step clippy bounded "$CLIPPY_LIMIT_S" cargo clippy --all-targets -- -D warnings
  step tests run_tests "$LOG_DIR"

  print_steps
  print_tally
  exit "$STEP_FAILED"
}

# A login shell puts cargo on PATH; a bare CI environment may not have read that profile.
find_cargo() {
  local home_bin=${CARGO_HOME:-${HOME:-/root}/.cargo}/bin
  if ! command -v cargo >/dev/null && [[ -x $home_bin/cargo ]]; then
    PATH=$home_bin:$PATH
  fi
  if [[ ${CI:-} == true ]]; then
    # A fresh clone builds once; incremental state would only cost time and disk.
    export CARGO_INCREMENTAL=0
  fi
}

print_versions() {
  say "$(cargo --version), $(rustc --version | cut -d' ' -f1-2)," \
    "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
}

print_tally() {
  local tally
  tally=$(test_tally "$LOG_DIR")
  printf '\n'
  if [[ -n $tally ]]; then
    echo "tests: $tally"
  else
    echo "tests: no test runner reached its summary (see the tests step above)"
  fi
}

main "$@"
