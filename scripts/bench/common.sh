# Shared by the scripts in scripts/bench/: sourced after `cd` to the repository root.

# need COMMAND PACKAGE...: installs the Debian packages when COMMAND is missing.
need() {
  local command=$1
  shift
  if ! command -v "$command" >/dev/null; then
    echo "installing $* from Debian's packages" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null
  fi
}

# Builds the release binary and sets PLIMSOLL to it.
build_plimsoll() {
  cargo build --release --quiet
  PLIMSOLL=$PWD/target/release/plimsoll
}

# cpu_of COMMAND...: runs it (output discarded) and prints the user + system seconds of it and
# every thread and child it waited for, from rusage. CPU_OF_PREFIX (e.g. "taskset -c 0")
# goes in front of the command.
cpu_of() {
  python3 - ${CPU_OF_PREFIX:-} "$@" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime)
PY
}
