# Named, timed steps for scripts/test.sh: each step prints its name as it starts and its outcome
# with the wall time as it ends, and a table of all steps closes the run. Owns only the
# printing and timing; what a step does is the caller's.

STEP_LINES=()
STEP_FAILED=0

# Milliseconds since the epoch, without forking `date` (bash 5 has EPOCHREALTIME).
now_ms() {
  local t=${EPOCHREALTIME/[.,]/}
  echo $((t / 1000))
}

# "12.3 s" from a count of milliseconds.
fmt_ms() {
  printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100))
}

say() {
  printf 'test.sh: %s\n' "$*"
}

# step NAME COMMAND...: runs COMMAND with errexit on, prints and records its time and result.
# A failure sets STEP_FAILED and the run goes on to the next step. Call it as a plain
# statement: within `if`, `&&` or `||` bash would switch errexit off inside COMMAND.
step() {
  local name=$1 start rc took
  shift
  printf '\n==> %s\n' "$name"
  start=$(now_ms)
  set +e
  (
    set -e
    "$@"
  )
  rc=$?
  set -e
  took=$(fmt_ms $(($(now_ms) - start)))
  if ((rc == 0)); then
    STEP_LINES+=("$(printf '%-9s ok      %s' "$name" "$took")")
    printf '<== %s: ok in %s\n' "$name" "$took"
  else
    STEP_FAILED=1
    STEP_LINES+=("$(printf '%-9s FAILED  %s (exit %d)' "$name" "$took" "$rc")")
    printf '<== %s: FAILED (exit %d) after %s\n' "$name" "$rc" "$took"
  fi
}

# bounded SECONDS COMMAND...: COMMAND, ended if it runs longer than SECONDS.
bounded() {
  local limit=$1 rc=0
  shift
  # On a terminal, --foreground keeps Ctrl-C reaching the command.
  if [[ -t 0 ]]; then
    timeout --foreground "$limit" "$@" || rc=$?
  else
    timeout "$limit" "$@" || rc=$?
  fi
  if ((rc == 124)); then
    say "error: '$*' ran past its limit of $limit s and was stopped"
  fi
  return "$rc"
}

# skip_step NAME WHY: records a step that was deliberately not run.
skip_step() {
  STEP_LINES+=("$(printf '%-9s skipped (%s)' "$1" "$2")")
  printf '\n==> %s: skipped (%s)\n' "$1" "$2"
}

print_steps() {
  printf '\nsteps:\n'
  printf '  %s\n' "${STEP_LINES[@]}"
}
