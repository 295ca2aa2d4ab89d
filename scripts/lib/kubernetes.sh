# The validator the shard tests check deploy/kubernetes/ with: kubernetes-validate from PyPI,
# which bundles the Kubernetes JSON schemas (so it validates offline) and brings PyYAML, which
# the tests also use to read the manifest. Installed with pip when missing. A machine where it
# cannot be installed still runs the suite; those tests then say they skipped and why.
# Owns installing the validator, not what the tests check.
# Expects steps.sh for `say`.

KUBERNETES_VALIDATE_VERSION=1.37.0

ensure_kubernetes_validate() {
  if ! command -v kubernetes-validate >/dev/null; then
    say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check \
      "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" </dev/null ||
      say "warning: kubernetes-validate could not be installed; the manifest tests will skip"
    # pyenv puts new console scripts on PATH only after a rehash.
    if command -v pyenv >/dev/null; then pyenv rehash || true; fi
  fi
  if command -v kubernetes-validate >/dev/null; then
    say "kubernetes-validate $(kubernetes-validate --version 2>/dev/null): ready for the manifest tests"
  fi
}
