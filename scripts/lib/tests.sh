# The test step: every test but the doc tests through nextest when it is installed (one
# summary across all test binaries), then the doc tests through cargo; or all of them through
# cargo test when nextest is not installed. Both run to the end rather than stopping at the
# first failure, so one run shows every broken test. Owns running the tests and counting their
# outcomes, not which tests exist.
# Expects steps.sh for `say` and `bounded`.

DOC_TEST_LIMIT_S=900
TEST_LIMIT_S=2400

# run_tests LOG_DIR: runs the tests, keeping their output in LOG_DIR for `test_tally`.
run_tests() {
  local logs=$1 rc=0
  if cargo nextest --version >/dev/null 2>&1; then
    # nextest first: it builds the dependencies the doc tests then reuse. The other way round,
    # a fresh clone built them all inside the doc tests' bound.
    bounded "$TEST_LIMIT_S" cargo nextest run --no-fail-fast 2>&1 | tee "$logs/tests.log" || rc=1
    bounded "$DOC_TEST_LIMIT_S" cargo test --doc 2>&1 | tee "$logs/doc.log" || rc=1
  else
    say "cargo-nextest is not installed; running the tests with cargo test"
    bounded "$TEST_LIMIT_S" cargo test --no-fail-fast 2>&1 | tee "$logs/tests.log" || rc=1
  fi
  return "$rc"
}

# test_tally LOG_DIR: one line, "N passed, N failed, N skipped", summed over cargo test's
# per-binary results and nextest's summary; empty when no runner got as far as a summary.
test_tally() {
  cat "$1"/*.log 2>/dev/null | awk '
    function count(word) {
      return match($0, "[0-9]+ " word) ? substr($0, RSTART, RLENGTH) + 0 : 0
    }
    /^test result:/ {
      seen = 1; passed += count("passed"); failed += count("failed"); skipped += count("ignored")
    }
    /^ *Summary \[/ {
      seen = 1; passed += count("passed"); skipped += count("skipped")
      failed += count("failed") + count("timed out")
    }
    END { if (seen) printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped }
  '
}
